//! Overall and per-attempt timeouts for HTTP calls.
//!
//! ```
//! use std::time::Duration;
//! use chassis::resilience::timeout::{TimeoutLayer, is_timeout};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let slow = service_fn(|_req: http::Request<()>| async {
//!     tokio::time::sleep(Duration::from_secs(10)).await;
//!     Ok::<_, tower::BoxError>(http::Response::new(()))
//! });
//! let svc = ServiceBuilder::new()
//!     .layer(TimeoutLayer::overall(Duration::from_secs(2)))
//!     .service(slow);
//! let err = svc.oneshot(http::Request::new(())).await.unwrap_err();
//! assert!(is_timeout(&*err));
//! # }
//! ```
//!
//! # Why
//!
//! A call without a timeout holds a connection, a task and the caller's patience for as long
//! as the slowest dependency likes. Two timeouts answer two questions: the **overall** timeout
//! is how long the caller waits for the whole call, retries and backoff included; the
//! **per-attempt** timeout is how long one try may take before a retry is worth more than
//! waiting. Order them overall > retry > per-attempt.
//!
//! Both poll the inner future before their timer (as [`tower::timeout::Timeout`] does, so a
//! ready response always wins), fail with [`Elapsed`], and record the resulting
//! [`Deadline`] in the request's extensions (tightening any deadline already there or
//! current), so that the retry layer stops in time and
//! [`PropagateDeadline`](crate::resilience::deadline::PropagateDeadline) tells the callee.
//! When this timeout is the tightest deadline, a
//! [`DeadlineExceeded`](crate::resilience::deadline::DeadlineExceeded) from below at or after
//! that instant is reported as this layer's [`Elapsed`] (so a per-attempt timeout stays
//! retryable whichever timer fired first).

mod error;
mod future;
mod layer;

use std::{
    task::{Context, Poll},
    time::Duration,
};

use tower::{BoxError, Service};

use crate::resilience::deadline::{Deadline, earliest};

pub use error::{Elapsed, TimeoutKind, is_timeout};
pub use future::ResponseFuture;
pub use layer::TimeoutLayer;

/// When the tightest of the client's own timers (overall, per attempt) fires, kept in the
/// request's extensions: an attempt dropped before its response was cut by the client's own
/// timer when it is dropped at or after this instant, and counts against its endpoint;
/// dropped earlier, the caller gave up (or its deadline came first), which is not charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OwnTimer(pub(crate) tokio::time::Instant);

impl OwnTimer {
    /// Whether the timer has fired by now.
    pub(crate) fn has_fired(self) -> bool {
        tokio::time::Instant::now() >= self.0
    }
}

/// A timeout for one call, in the request's extensions: the overall timeout uses it instead
/// of its configured one (the client's request builder sets it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallTimeout(pub Duration);

/// The service of [`TimeoutLayer`].
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    limit: Option<Duration>,
    kind: TimeoutKind,
}

impl<S> Timeout<S> {
    /// Wraps `inner` with a timeout of the given kind.
    pub const fn new(inner: S, timeout: Duration, kind: TimeoutKind) -> Self {
        Self {
            inner,
            limit: Some(timeout),
            kind,
        }
    }

    /// An overall timeout only for calls that carry a [`CallTimeout`].
    pub(crate) const fn per_call_only(inner: S) -> Self {
        Self {
            inner,
            limit: None,
            kind: TimeoutKind::Overall,
        }
    }

    /// The configured timeout.
    pub const fn timeout(&self) -> Option<Duration> {
        self.limit
    }
}

impl<S, B> Service<http::Request<B>> for Timeout<S>
where
    S: Service<http::Request<B>>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let per_call = match self.kind {
            TimeoutKind::Overall => req.extensions().get::<CallTimeout>().map(|t| t.0),
            TimeoutKind::Attempt => None,
        };
        let Some(limit) = per_call.or(self.limit) else {
            return ResponseFuture::unbounded(self.inner.call(req));
        };
        let own = Deadline::after(limit);
        let timer = match req.extensions().get::<OwnTimer>() {
            Some(outer) if outer.0 <= own.instant() => *outer,
            _ => OwnTimer(own.instant()),
        };
        req.extensions_mut().insert(timer);
        let deadline = earliest(Some(own), Deadline::for_request(&req)).unwrap_or(own);
        req.extensions_mut().insert(deadline);
        // When this timeout is the tightest deadline, a `DeadlineExceeded` from below (deadline
        // propagation bounding the call by the same instant) is this timeout firing.
        let owns_deadline = deadline == own;
        ResponseFuture::new(
            self.inner.call(req),
            own,
            Elapsed::new(limit, self.kind),
            owns_deadline.then_some(own),
        )
    }
}
