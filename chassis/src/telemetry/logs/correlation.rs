//! The ids every log line inside a request carries: `trace_id`, `span_id` and `request_id`.
//!
//! They come from the current [`TraceContext`] (a scoped thread-local) that the server layer
//! sets while the request's future runs, so correlating a line costs one thread-local read
//! and needs no per-request span in the subscriber. Outside that scope (a task spawned with a span that the exporting
//! server layer made) they come from the [`TraceIds`] the layer stored in the span.

use tracing::Subscriber;
use tracing_subscriber::fmt::{FmtContext, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::telemetry::propagation::{SpanId, TraceContext, TraceId};

/// The ids of an exported request span, kept in its registry extensions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TraceIds {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
}

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
pub(crate) fn with_ids<S, N, R>(
    ctx: &FmtContext<'_, S, N>,
    mut write: impl FnMut(Ids<'_>) -> R,
) -> Option<R>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    TraceContext::with_current(|current| {
        write(Ids {
            trace_id: current.trace_id(),
            span_id: current.span_id(),
            request_id: current.request_id().and_then(|id| id.to_str().ok()),
        })
    })
    .or_else(|| {
        let ids = ctx
            .event_scope()?
            .into_iter()
            .find_map(|span| span.extensions().get::<TraceIds>().copied())?;
        Some(write(Ids {
            trace_id: ids.trace_id,
            span_id: ids.span_id,
            request_id: None,
        }))
    })
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex, PoisonError};

    use super::*;
    use crate::telemetry::TelemetryConfig;
    use crate::telemetry::link::{Export, link_span};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for Buffer {
        type Writer = Self;

        fn make_writer(&'w self) -> Self {
            self.clone()
        }
    }

    /// What one event logs in the request's context, with or without the exported span.
    fn line(exported: bool) -> String {
        let buffer = Buffer::default();
        let (subscriber, _handle) =
            super::super::subscriber(&TelemetryConfig::default(), None, buffer.clone())
                .expect("subscriber");
        tracing::subscriber::with_default(subscriber, || {
            let ctx = TraceContext::new_root();
            let span = if exported {
                tracing::info_span!(
                    "http.server",
                    trace_id = %ctx.trace_id(),
                    span_id = %ctx.span_id()
                )
            } else {
                tracing::Span::none()
            };
            let ctx = link_span(&span, ctx, Export::default(), None);
            let _entered = span.enter();
            ctx.in_scope(|| tracing::info!("inside"));
        });
        let text = buffer
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        String::from_utf8(text).expect("utf-8")
    }

    #[test]
    fn the_ids_appear_once_with_or_without_an_exported_span() {
        for exported in [false, true] {
            let line = line(exported);
            assert_eq!(line.matches("trace_id=").count(), 1, "{line}");
            assert_eq!(line.matches("span_id=").count(), 1, "{line}");
        }
    }
}
