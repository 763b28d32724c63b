//! The standard stack: the middleware every service gets, as one service.
//!
//! Each step is its own module's function ([`request_id`](super::RequestIdLayer), load
//! shedding, the body limit, the deadline, the timeout, panics, error answers), and each is
//! also a tower layer of its own for a custom stack. [`standard_stack`] runs them all in one
//! service with one future: eight nested layers cost eight moves of the request, eight
//! futures nested in each other and eight polls per wake-up, about a thousand instructions
//! per request more than this (`benches/instructions.sh`).

mod future;
mod scan;
#[cfg(test)]
mod tests;

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{Request, StatusCode, Version};
use tower::load_shed::error::Overloaded;
use tower::{BoxError, Service};

pub use future::StandardStackFuture;

use super::body_limit::declared_length;
use super::shed::InFlight;
use super::trust::{TrustPolicy, strip_untrusted};
use super::{BodyLimitLayer, ForConnection, Problem, count_rejection, request_id};
use crate::config::ServerConfig;
use crate::resilience::deadline::{Deadline, DeadlineLayer};
use crate::shutdown::Shutdown;
use future::Kind;
use scan::Found;

/// The body limit axum's extractors apply unless told otherwise.
const AXUM_DEFAULT_BODY_LIMIT: usize = 2 << 20;

/// Wraps `router` in the standard stack, outermost first:
///
/// 0. the trust boundary (`server.trust`, decided per connection): an untrusted caller's
///    deadline, trace context and baggage are removed, its request id validated or
///    replaced (see [`Serving`](super::Serving) and the `trust` module docs); more headers than
///    `server.max_headers` (HTTP/2, where hyper does not count them) -> `431`;
/// 1. request id: `x-request-id` kept or generated, echoed on the response;
/// 2. panic -> `500`, the process lives on;
/// 3. errors -> problem responses (the single place statuses are chosen);
/// 4. load shedding over a concurrency limit -> `503` with `Retry-After`;
/// 5. request timeout -> `504` (the handler is polled first; a timer is created only when it
///    is not ready at once);
/// 6. the caller's deadline (`x-request-timeout-ms`, capped by the request timeout) stored
///    in the request extensions and as [`Deadline::current`] for the handler, so outbound
///    calls carry what is left of it; one below `server.deadline_floor` is answered `504`
///    at once, before the handler runs;
/// 7. body size limit -> `413`, and body read timeout (a stalled body fails the request).
///
/// With [`StandardStack::close_on_shutdown`], HTTP/1 answers carry `Connection: close` from
/// the moment shutdown begins.
///
/// Header count and header size (`431`) are enforced by hyper, and slow or idle clients
/// are closed by the watchdog of each connection, in
/// [`Serving`](super::Serving).
pub fn standard_stack(config: &ServerConfig, router: Router) -> StandardStack<Router> {
    let max_body = config.max_body_size.as_usize();
    // Our body limit bounds every body; axum's extractors add their own 2 MiB default, which
    // only needs lifting when the configured limit is larger.
    let router = if max_body > AXUM_DEFAULT_BODY_LIMIT {
        router.layer(DefaultBodyLimit::max(max_body))
    } else {
        router
    };
    StandardStack::around(config, router)
}

/// The service [`standard_stack`] returns.
#[derive(Debug)]
pub struct StandardStack<S> {
    inner: S,
    in_flight: Arc<InFlight>,
    timeout: Duration,
    deadline: DeadlineLayer,
    /// A caller's deadline shorter than this fails the request at once.
    deadline_floor: Duration,
    body: BodyLimitLayer,
    max_headers: usize,
    trust: TrustPolicy,
    /// Whether this connection's caller is trusted (see [`ForConnection`]).
    trusted: bool,
    /// A readiness error of `inner`, answered by the next call.
    not_ready: Option<Response>,
    /// Once triggered, HTTP/1 answers say `Connection: close`.
    shutdown: Option<Shutdown>,
}

impl<S> StandardStack<S> {
    /// The stack around any service that takes an axum `Body`.
    pub(crate) fn around(config: &ServerConfig, inner: S) -> Self {
        let trust = TrustPolicy::from_config(&config.trust);
        Self {
            inner,
            in_flight: InFlight::new(config.max_concurrent_requests),
            timeout: config.request_timeout,
            deadline: DeadlineLayer::new().max(config.request_timeout),
            deadline_floor: config.deadline_floor,
            body: BodyLimitLayer::new(config.max_body_size.as_usize())
                .read_timeout(config.body_read_timeout),
            max_headers: config.max_headers,
            trusted: trust.trusts(None),
            trust,
            not_ready: None,
            shutdown: None,
        }
    }

    /// From the moment `shutdown` is triggered, answers HTTP/1 requests with
    /// `Connection: close`.
    ///
    /// Why: the drain delay keeps serving, and a caller keeps reusing its kept-alive
    /// connections until it is told otherwise. When the server then closes a connection the
    /// caller has just sent a request on, that request is lost (the caller sees the
    /// connection reset, or a "remote disconnected" error). Told to close during the drain
    /// delay, callers open new connections, which go to other instances once load balancers
    /// have caught up, and nothing is in flight on the old ones when they close. HTTP/2
    /// connections are told with `GOAWAY` when draining begins, which loses no request.
    /// The cost per request is one atomic load.
    #[must_use]
    pub fn close_on_shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    /// Whether callers of this copy are trusted (by peer address once served by
    /// [`Serving`](super::Serving); by `server.trust.mode` before).
    pub fn is_trusted(&self) -> bool {
        self.trusted
    }
}

impl<S: Clone> ForConnection for StandardStack<S> {
    fn for_connection(&self, peer: std::net::SocketAddr) -> Self {
        let mut copy = self.clone();
        copy.trusted = self.trust.trusts(Some(peer.ip()));
        copy
    }
}

impl<S: Clone> Clone for StandardStack<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            in_flight: Arc::clone(&self.in_flight),
            timeout: self.timeout,
            deadline: self.deadline,
            deadline_floor: self.deadline_floor,
            body: self.body,
            max_headers: self.max_headers,
            trust: self.trust.clone(),
            trusted: self.trusted,
            not_ready: None,
            shutdown: self.shutdown.clone(),
        }
    }
}

impl<S, B> Service<Request<B>> for StandardStack<S>
where
    S: Service<Request<Body>, Response = Response>,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = StandardStackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        if let Err(error) = ready!(self.inner.poll_ready(cx)) {
            self.not_ready = Some(super::error_response(&error.into()));
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let close = self.shutdown.as_ref().is_some_and(Shutdown::is_triggered)
            && request.version() <= Version::HTTP_11;
        self.start(request).close_connection(close)
    }
}

impl<S> StandardStack<S> {
    /// Every step of the stack up to the handler's future.
    fn start<B>(&mut self, mut request: Request<B>) -> StandardStackFuture<S::Future>
    where
        S: Service<Request<Body>, Response = Response>,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let caller_link = if self.trusted {
            None
        } else {
            strip_untrusted(request.headers_mut())
        };
        let found = Found::scan(request.headers());
        // A gRPC call gets gRPC answers (`grpc-status`, never a problem body), its
        // `grpc-timeout` as its deadline, and gRPC statuses for a body over the limits.
        #[cfg(feature = "grpc")]
        let grpc = found
            .content_type
            .is_some_and(crate::grpc::is_grpc_content_type);
        #[cfg(not(feature = "grpc"))]
        let grpc = false;
        let sent_id = match found.request_id {
            Some(_) if !self.trusted && self.trust.regenerate_ids => None,
            sent => sent.cloned(),
        };
        let declared = found.content_length.and_then(declared_length);
        let budget = self.deadline.budget_of(found.deadline);
        #[cfg(feature = "grpc")]
        let budget = if grpc {
            crate::grpc::call_budget(budget, found.grpc_timeout, self.timeout)
        } else {
            budget
        };
        let too_many_headers = request.headers().len() > self.max_headers;
        let id = request_id::adopt(request.headers_mut(), sent_id);
        if let Some(response) = self.not_ready.take() {
            return StandardStackFuture::answered(response, id).grpc(grpc);
        }
        if too_many_headers {
            count_rejection("headers");
            let refused = Problem::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
                .detail("the request has more headers than the server accepts")
                .into_response();
            return StandardStackFuture::answered(refused, id).grpc(grpc);
        }
        if budget.is_some_and(|budget| budget < self.deadline_floor) {
            count_rejection("deadline");
            let refused = Problem::new(StatusCode::GATEWAY_TIMEOUT)
                .detail("the caller's deadline leaves too little time to handle the request")
                .into_response();
            return StandardStackFuture::answered(refused, id).grpc(grpc);
        }
        let deadline = budget.map(Deadline::after);
        if let Some(link) = caller_link {
            request.extensions_mut().insert(link);
        }
        let Some(slot) = self.in_flight.try_acquire() else {
            let overloaded: BoxError = Overloaded::new().into();
            return StandardStackFuture::answered(super::error_response(&overloaded), id)
                .grpc(grpc);
        };
        let mut request = match self.body.admit_declared(declared, request) {
            #[cfg(feature = "grpc")]
            Ok(request) if grpc => request.map(crate::grpc::GrpcRequestBody::wrap),
            Ok(request) => request,
            Err(refused) => return StandardStackFuture::answered(refused, id).grpc(grpc),
        };
        if let Some(deadline) = deadline {
            request.extensions_mut().insert(deadline);
        }
        let inner = &mut self.inner;
        let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match deadline {
            Some(deadline) => Deadline::sync_scope_exact(Some(deadline), || inner.call(request)),
            None => inner.call(request),
        }));
        match called {
            Ok(future) => StandardStackFuture::new(
                Kind::Running {
                    inner: Some(future),
                    sleep: None,
                    // A gRPC call ends at its deadline, as gRPC servers end it.
                    timeout: match budget {
                        Some(budget) if grpc => budget.min(self.timeout),
                        _ => self.timeout,
                    },
                    deadline,
                    _slot: slot,
                },
                id,
            )
            .grpc(grpc),
            Err(panic) => {
                let response = super::panic::panic_response(&*panic, Some(&id));
                StandardStackFuture::answered(response, id).grpc(grpc)
            }
        }
    }
}
