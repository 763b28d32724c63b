//! The ids every log line inside a request carries: `trace_id`, `span_id` and `request_id`.
//!
//! They come from the current [`TraceContext`] (a scoped thread-local) that the server layer
//! sets while the request's future runs, so correlating a line costs one thread-local read
//! and needs no per-request span in the subscriber. A task spawned from a handler keeps them
//! when spawned in the context (`TraceContext::current()` and `scope`).

use crate::telemetry::propagation::{SpanId, TraceContext, TraceId};

/// The ids of the request an event belongs to.
#[allow(
    clippy::struct_field_names,
    reason = "named after the log fields they become"
)]
pub(crate) struct Ids<'a> {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    /// `x-request-id`, when it is printable text.
    pub(crate) request_id: Option<&'a str>,
}

/// Calls `write` with the ids of the current request, if the event is inside one.
pub(crate) fn with_ids<R>(write: impl FnOnce(Ids<'_>) -> R) -> Option<R> {
    TraceContext::with_current(|current| {
        write(Ids {
            trace_id: current.trace_id(),
            span_id: current.span_id(),
            request_id: current.request_id().and_then(|id| id.to_str().ok()),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::TelemetryConfig;
    use crate::telemetry::logs::test_buffer::Buffer;

    /// What one event logs in the request's context, inside a span of the handler's or not.
    fn line(in_span: bool) -> String {
        let buffer = Buffer::default();
        let (subscriber, _handle) =
            super::super::subscriber(&TelemetryConfig::default(), None, buffer.clone())
                .expect("subscriber");
        tracing::subscriber::with_default(subscriber, || {
            let ctx = TraceContext::new_root();
            let span = if in_span {
                tracing::info_span!("load item", item = 7)
            } else {
                tracing::Span::none()
            };
            let _entered = span.enter();
            ctx.in_scope(|| tracing::info!("inside"));
        });
        buffer.text()
    }

    #[test]
    fn the_ids_appear_once_inside_a_handlers_span_or_not() {
        for in_span in [false, true] {
            let line = line(in_span);
            assert_eq!(line.matches("trace_id=").count(), 1, "{line}");
            assert_eq!(line.matches("span_id=").count(), 1, "{line}");
        }
        assert!(line(true).contains("load item{item=7}"), "{}", line(true));
    }
}
