//! Retries for HTTP calls: exponential backoff with full jitter, `Retry-After`, a retry
//! budget, deadline awareness and request body replay.
//!
//! ```
//! use std::time::Duration;
//! use chassis::resilience::retry::{RetryBody, RetryLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use http_body_util::Full;
//! use bytes::Bytes;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), tower::BoxError> {
//! let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
//! let counter = calls.clone();
//! let flaky = service_fn(move |_req: http::Request<RetryBody<Full<Bytes>>>| {
//!     let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
//!     async move {
//!         let status = if n == 0 { 503 } else { 200 };
//!         Ok::<_, tower::BoxError>(http::Response::builder().status(status).body(())?)
//!     }
//! });
//! let svc = ServiceBuilder::new()
//!     .layer(RetryLayer::builder("catalog").max_attempts(3).build()?)
//!     .service(flaky);
//! let res = svc.oneshot(http::Request::new(Full::new(Bytes::from("hi")))).await?;
//! assert_eq!(res.status(), 200);
//! assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
//! # Ok(())
//! # }
//! ```
//!
//! # Why
//!
//! Most failures between services are brief: a restarting pod, a dropped connection, a shed
//! request. One more try, a little later, usually succeeds. Naive retries, though, multiply
//! load exactly when a dependency is struggling, duplicate side effects, and keep trying after
//! the caller has given up. This layer retries only what is safe and useful:
//!
//! - **What**: results the [`RetryClassifier`] calls retryable failures ([`DefaultClassifier`]:
//!   connect errors, per-attempt timeouts, 429, 502, 503, 504), of requests with an
//!   idempotent method (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) or the [`Retryable`] marker.
//! - **How often**: at most `max_attempts` attempts, and retries draw from a [`RetryBudget`]
//!   shared by every clone of the layer (at most `budget_percent` % extra load plus
//!   `budget_min_per_sec`).
//! - **When**: after a [`Backoff`] with full jitter, or after the server's `Retry-After` (on
//!   429/503, seconds or an HTTP date) when it is at most `retry_after_max`; a longer one
//!   ends the retries.
//! - **Until**: never past the request's [`Deadline`](crate::resilience::deadline::Deadline)
//!   (the current one or the one in the request's extensions, as set by the overall timeout):
//!   a retry starts only if its backoff plus `min_attempt_time` fits before it.
//! - **Bodies**: a request body is read into memory up to `max_replay_body` bytes before the
//!   first attempt and replayed from that copy; a larger body is sent once (what was read,
//!   then the rest) and that request is not retried. Bodies known to be empty cost nothing.
//!
//! Every attempt is counted once in `chassis_retry_attempts_total{client,outcome}` (see
//! [`Outcome`]), and budget refusals also in `chassis_retry_budget_exhausted_total{client}`.

mod backoff;
mod body;
mod budget;
mod classify;
mod future;
mod layer;
mod policy;

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::Body;
use tower::{BoxError, Service};

pub use backoff::Backoff;
pub use body::RetryBody;
pub use budget::RetryBudget;
pub use classify::{Attempt, DefaultClassifier, GrpcClassifier, RetryClassifier};
pub use future::{ResendCount, ResponseFuture};
pub use layer::{RetryLayer, RetryLayerBuilder};
pub use policy::{
    Decision, Outcome, RetryPolicy, Retryable, is_idempotent, is_retryable_request,
    parse_retry_after,
};

use body::{Buffering, Replay};
use future::Template;
use layer::Shared;

/// The service of [`RetryLayer`]. The inner service receives `Request<RetryBody<B>>` and
/// must be `Clone` (each retry polls a clone for readiness).
#[derive(Debug)]
pub struct Retry<S, C = DefaultClassifier> {
    inner: S,
    shared: Arc<Shared<C>>,
}

impl<S: Clone, C> Clone for Retry<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S, C> Retry<S, C> {
    pub(crate) const fn new(inner: S, shared: Arc<Shared<C>>) -> Self {
        Self { inner, shared }
    }
}

impl<S, C, B, ResB> Service<http::Request<B>> for Retry<S, C>
where
    S: Service<http::Request<RetryBody<B>>, Response = http::Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
    C: RetryClassifier,
{
    type Response = http::Response<ResB>;
    type Error = BoxError;
    type Future = ResponseFuture<S, B, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        shared.budget.deposit();
        let retryable = shared.policy.max_attempts > 1 && is_retryable_request(&req);
        let (parts, body) = req.into_parts();
        if retryable && body.is_end_stream() {
            let template = Template {
                parts,
                replay: Replay::default(),
            };
            let future = self.inner.call(template.request());
            return ResponseFuture::called(
                future,
                Some(self.inner.clone()),
                Some(template),
                shared,
            );
        }
        if !retryable || body.size_hint().lower() > shared.max_replay_body {
            let req = http::Request::from_parts(parts, RetryBody::once(Bytes::new(), body));
            return ResponseFuture::called(self.inner.call(req), None, None, shared);
        }
        // The body is read before the first attempt: that attempt takes the ready service.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let buffering = Buffering::new(body, shared.max_replay_body);
        ResponseFuture::buffering(ready, parts, buffering, shared)
    }
}
