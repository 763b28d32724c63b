//! The response future of [`ServerTelemetry`](super::ServerTelemetry).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use http::Response;
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tracing::{Level, Span};

use super::cache::{Instance, RouteRef};
use super::labels::method_label;
use crate::telemetry::config::AccessLog;
use crate::telemetry::propagation::TraceContext;

pin_project! {
    /// Completes the span, the duration histogram and the access log when the response head
    /// is ready.
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) inner: TaskLocalFuture<TraceContext, F>,
        pub(super) span: Span,
        pub(super) tracker: Tracker,
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
        let _entered = this.span.enter();
        let result = ready!(this.inner.as_mut().poll(cx));
        // An error never reached the client as a response; count it as a 500.
        let status = result.as_ref().map_or(500, |res| res.status().as_u16());
        if let Some(elapsed) = this.tracker.finish(this.span, status) {
            // Logged in the request's context, so the line carries its ids.
            match this.inner.take_value() {
                Some(ctx) => ctx.in_scope(|| this.tracker.log(status, elapsed)),
                None => this.tracker.log(status, elapsed),
            }
        }
        Poll::Ready(result)
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
}

impl Tracker {
    /// Records the outcome in the span and the duration histogram; returns the elapsed time
    /// when the access log is to be written.
    fn finish(&self, span: &Span, status: u16) -> Option<Duration> {
        let elapsed = self.start.elapsed();
        // As i64: tracing-opentelemetry exports u64 fields as strings, semconv wants an int.
        span.record("http.response.status_code", i64::from(status));
        self.instance
            .get(&self.route)?
            .duration(self.method, status)
            .record(elapsed.as_secs_f64());
        let logged = match self.access {
            AccessLog::Info => tracing::enabled!(target: "chassis::access", Level::INFO),
            AccessLog::Debug => tracing::enabled!(target: "chassis::access", Level::DEBUG),
            AccessLog::Off => false,
        };
        logged.then_some(elapsed)
    }

    /// The access-log event.
    fn log(&self, status: u16, elapsed: Duration) {
        let Some(route) = self.instance.get(&self.route) else {
            return;
        };
        let (method, route) = (method_label(self.method), route.label());
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
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
