//! The response future of [`ServerTelemetry`](super::ServerTelemetry).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::Instant;

use http::Response;
use pin_project_lite::pin_project;
use tracing::Level;

use super::cache::{Instance, RouteRef};
use super::labels::method_label;
use crate::telemetry::config::AccessLog;
use crate::telemetry::propagation::Scoped;
use crate::telemetry::server_span::ServerSpan;

pin_project! {
    /// Completes the span, the duration histogram and the access log when the response head
    /// is ready. When the request is abandoned instead (its handler panicked while polled, or
    /// the server's request timeout dropped it), records it with the status the client gets
    /// (`500`, `504`). A request dropped because its client went away is not recorded.
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) inner: Scoped<F>,
        pub(super) span: ServerSpan,
        pub(super) tracker: Tracker,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let abandoned = match this.tracker.outcome {
                Outcome::Done => None,
                Outcome::Panicked(elapsed) => Some((500, elapsed)),
                Outcome::Running => super::abandon::dropping_expired()
                    .then(|| (504, this.tracker.start.elapsed())),
            };
            if let Some((status, elapsed)) = abandoned {
                complete(this.tracker, this.span, &this.inner, status, elapsed);
            }
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let result = {
            let _panic = MarkPanic(&mut *this.tracker);
            ready!(this.inner.as_mut().poll(cx))
        };
        // A gRPC call's span lives on to the end of its response stream (see `grpc::span`).
        #[cfg(feature = "grpc")]
        if let Ok(response) = &result
            && let Some(handoff) = response.extensions().get::<crate::grpc::SpanHandoff>()
        {
            handoff.take_over(this.span);
        }
        // An error never reached the client as a response; count it as a 500.
        let status = result.as_ref().map_or(500, |res| res.status().as_u16());
        let elapsed = this.tracker.start.elapsed();
        complete(this.tracker, this.span, &this.inner, status, elapsed);
        Poll::Ready(result)
    }
}

/// Records the outcome and writes the access log in the request's context, so the line
/// carries its ids.
fn complete<F>(
    tracker: &mut Tracker,
    span: &mut ServerSpan,
    inner: &Scoped<F>,
    status: u16,
    elapsed: Duration,
) {
    if tracker.finish(span, status, elapsed) {
        inner.context().in_scope(|| tracker.log(status, elapsed));
    }
}

/// How far a request got.
#[derive(Debug, Clone, Copy)]
pub(super) enum Outcome {
    Running,
    /// Its handler panicked after this long (the panic layer answers `500`).
    Panicked(Duration),
    Done,
}

/// Notes a panic unwinding through the handler's poll.
struct MarkPanic<'a>(&'a mut Tracker);

impl Drop for MarkPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() && matches!(self.0.outcome, Outcome::Running) {
            self.0.outcome = Outcome::Panicked(self.0.start.elapsed());
        }
    }
}

/// Per-request bookkeeping; its `Drop` lowers the active-requests gauge, also when the
/// request is cancelled (client gone, timeout) before completing.
#[derive(Debug)]
pub(super) struct Tracker {
    pub(super) instance: Arc<Instance>,
    pub(super) route: RouteRef,
    pub(super) method: usize,
    pub(super) start: Instant,
    pub(super) access: AccessLog,
    pub(super) outcome: Outcome,
}

impl Tracker {
    /// Records the outcome in the span and the duration histogram (once); returns whether
    /// the access log is to be written.
    fn finish(&mut self, span: &mut ServerSpan, status: u16, elapsed: Duration) -> bool {
        if matches!(self.outcome, Outcome::Done) {
            return false;
        }
        self.outcome = Outcome::Done;
        span.end(status);
        let Some(route) = self.instance.get(&self.route) else {
            return false;
        };
        route
            .duration(self.method, status)
            .record(elapsed.as_secs_f64());
        match self.access {
            AccessLog::Info => tracing::enabled!(target: "chassis::access", Level::INFO),
            AccessLog::Debug => tracing::enabled!(target: "chassis::access", Level::DEBUG),
            AccessLog::Off => false,
        }
    }

    /// The access-log event.
    fn log(&self, status: u16, elapsed: Duration) {
        let Some(route) = self.instance.get(&self.route) else {
            return;
        };
        let (method, route) = (method_label(self.method), route.label());
        // Whole microseconds, so the line shows `0.266`, not `0.26639399999999996`.
        #[allow(
            clippy::cast_precision_loss,
            reason = "microseconds fit an f64 exactly"
        )]
        let duration_ms = elapsed.as_micros() as f64 / 1000.0;
        match self.access {
            AccessLog::Info => tracing::info!(
                target: "chassis::access",
                method,
                route,
                status,
                duration_ms,
                "request completed"
            ),
            AccessLog::Debug => tracing::debug!(
                target: "chassis::access",
                method,
                route,
                status,
                duration_ms,
                "request completed"
            ),
            AccessLog::Off => {}
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.instance.shared.active(self.method).decrement(1.0);
    }
}
