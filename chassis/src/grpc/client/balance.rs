//! [`GrpcBalancer`]: the innermost service of a gRPC channel. The HTTP client's balancing
//! and outlier ejection (its endpoint set, breakers and attempt accounting), over HTTP/2,
//! with each attempt judged by its gRPC status, which may come only in the trailers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use http::{Request, Response, StatusCode};
use tower::{BoxError, Service};

use crate::client::balance::{Endpoints, InFlight, OutBody};
use crate::client::pool::Pool;
use crate::grpc::metrics::{End, Finish, RpcBody};
use crate::grpc::timeout::format_grpc_timeout;
use crate::grpc::{GRPC_TIMEOUT, status_in};
use crate::resilience::blame::{Failure, Verdict};
use crate::resilience::deadline::Deadline;
use crate::resilience::timeout::OwnTimer;
use crate::telemetry::client_span::{AttemptSpan, Call};

/// Picks an endpoint, sends the call on its HTTP/2 connection, judges the attempt when its
/// status is known.
#[derive(Debug, Clone)]
pub(crate) struct GrpcBalancer {
    endpoints: Arc<Endpoints>,
    http: Arc<Pool>,
}

impl GrpcBalancer {
    pub(crate) fn new(endpoints: Arc<Endpoints>, http: Pool) -> Self {
        Self {
            endpoints,
            http: Arc::new(http),
        }
    }
}

/// Whether the deadline of a request is the caller's (inbound) rather than the client's own
/// timer: a `DEADLINE_EXCEEDED` answer is then not the dependency's doing.
pub(crate) fn caller_deadline_first(own: Option<OwnTimer>, deadline: Option<Deadline>) -> bool {
    deadline.is_some_and(|deadline| own.is_none_or(|own| deadline.instant() < own.0))
}

impl Service<Request<OutBody>> for GrpcBalancer {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<OutBody>) -> Self::Future {
        let picked = match self
            .endpoints
            .pick_for(&mut request, self.http.scheme(), "")
        {
            Ok(picked) => picked,
            Err(error) => return Box::pin(std::future::ready(Err(error))),
        };
        let (mut parts, body) = request.into_parts();
        let timer = parts.extensions.get::<OwnTimer>().copied();
        let deadline = parts.extensions.get::<Deadline>().copied();
        // The callee's deadline, as gRPC writes it (deadline propagation has written
        // `x-request-timeout-ms` from the same instant).
        if let Some(deadline) = deadline {
            parts
                .headers
                .insert(GRPC_TIMEOUT, format_grpc_timeout(deadline.remaining()));
        }
        let caller_first = caller_deadline_first(timer, deadline);
        // A cheap copy (shared bytes), so the span can name the method while the headers change.
        let uri = parts.uri.clone();
        let call = Call {
            template: None,
            resends: parts
                .extensions
                .get::<crate::resilience::retry::ResendCount>()
                .map_or(0, |r| r.0),
            authority: picked.endpoint.authority(),
            rpc: Some(uri.path()),
        };
        let span = AttemptSpan::start(&mut parts, &call);
        let mut attempt = InFlight::start(picked, self.endpoints.epoch, timer, span);
        let response = self.http.request(Request::from_parts(parts, body));
        Box::pin(async move {
            match response.await {
                Ok(response) => Ok(judge(response, attempt, caller_first)),
                Err(error) => Err(attempt.transport_failed(error)),
            }
        })
    }
}

/// Judges an attempt that was answered: now, when its status is in the headers (or it is no
/// gRPC answer); at the end of its body otherwise.
fn judge(
    response: Response<hyper::body::Incoming>,
    mut attempt: InFlight,
    caller_first: bool,
) -> Response<Body> {
    let status = response.status();
    if let Some(code) = status_in(response.headers()) {
        let code = code as i32;
        attempt.judged_rpc(code, Verdict::of_grpc_status(code, caller_first));
        return response.map(Body::new);
    }
    if status != StatusCode::OK {
        attempt.answered(status);
        return response.map(Body::new);
    }
    response.map(|body| {
        Body::new(RpcBody::new(
            body,
            AttemptEnd {
                attempt,
                caller_first,
            },
        ))
    })
}

/// Judges an attempt when its response stream ends.
struct AttemptEnd {
    attempt: InFlight,
    caller_first: bool,
}

impl Finish for AttemptEnd {
    fn finish(mut self, end: End) {
        match end {
            End::Status(code) => {
                let code = code as i32;
                let verdict = Verdict::of_grpc_status(code, self.caller_first);
                self.attempt.judged_rpc(code, verdict);
            }
            End::Failed => self.attempt.failed(Verdict::Failure(Failure::Transport)),
            // The reader gave up: the attempt's own drop decides (its timer, or cancelled).
            End::Dropped => drop(self.attempt),
        }
    }
}
