//! The ids every log line inside a request carries: `trace_id`, `span_id` and `request_id`.
//!
//! They come from the task-local [`TraceContext`] the server layer sets while the request's
//! future runs, so correlating a line costs one thread-local read and needs no per-request
//! span in the subscriber. Outside that scope (a task spawned with a span that the exporting
//! server layer made) they come from the [`TraceIds`] the layer stored in the span.

use std::fmt::{self, Write};

use tracing::Subscriber;
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::time::SystemTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
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

/// `tracing-subscriber`'s full text format with the request's ids appended to the line:
/// `... message field=1 trace_id=4bf9... span_id=00f0... request_id=req-42`.
#[derive(Debug)]
pub(crate) struct PrettyWithIds {
    inner: Format<Full, SystemTime>,
}

impl PrettyWithIds {
    pub(crate) fn new(ansi: bool) -> Self {
        Self {
            inner: Format::default().with_ansi(ansi),
        }
    }
}

impl<S, N> FormatEvent<S, N> for PrettyWithIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let mut held = HoldNewline {
            out: &mut writer,
            newline: false,
        };
        self.inner
            .format_event(ctx, Writer::new(&mut held), event)?;
        let newline = held.newline;
        with_ids(ctx, |ids| {
            write!(writer, " trace_id={} span_id={}", ids.trace_id, ids.span_id)?;
            match ids.request_id {
                // Quoted unless it is one plain word, so a caller's id cannot forge fields.
                Some(id) if id.bytes().all(|b| b.is_ascii_graphic()) => {
                    write!(writer, " request_id={id}")
                }
                Some(id) => write!(writer, " request_id={id:?}"),
                None => Ok(()),
            }
        })
        .transpose()?;
        if newline {
            writer.write_char('\n')?;
        }
        Ok(())
    }
}

/// Passes text through but holds back a final newline, so more can go on the line.
struct HoldNewline<'a, 'w> {
    out: &'a mut Writer<'w>,
    newline: bool,
}

impl Write for HoldNewline<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if std::mem::take(&mut self.newline) {
            self.out.write_char('\n')?;
        }
        match s.strip_suffix('\n') {
            Some(line) => {
                self.newline = true;
                self.out.write_str(line)
            }
            None => self.out.write_str(s),
        }
    }
}
