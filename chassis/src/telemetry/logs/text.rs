//! The text line format: `tracing-subscriber`'s full format with the request's ids appended,
//! `... message field=1 trace_id=4bf9... span_id=00f0... request_id=req-42`.
//!
//! Without colours (stdout to a file or a pipe, as in production) the line is written
//! directly, piece by piece, as the full format would write it; with colours (a terminal)
//! the full format itself writes it.

use std::fmt::{self, Write};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::correlation::with_ids;
use super::timestamp::Timestamp;

/// The text format.
#[derive(Debug)]
pub(crate) struct PrettyWithIds {
    inner: Format<Full, Timestamp>,
    /// Lines without colours are written directly (off only to compare, in tests).
    direct: bool,
}

impl PrettyWithIds {
    pub(crate) fn new(ansi: bool) -> Self {
        Self {
            inner: Format::default().with_timer(Timestamp).with_ansi(ansi),
            direct: true,
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
        event: &Event<'_>,
    ) -> fmt::Result {
        // Events of the `log` crate carry their real target and level in fields, which the
        // full format reads; so does it colours.
        let by_hand =
            self.direct && !writer.has_ansi_escapes() && event.metadata().target() != "log";
        if by_hand {
            line_head(ctx, &mut writer, event)?;
        } else {
            let mut held = HoldNewline {
                out: &mut writer,
                newline: false,
            };
            self.inner
                .format_event(ctx, Writer::new(&mut held), event)?;
        }
        with_ids(|ids| {
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
        writer.write_char('\n')
    }
}

/// The full format's line without its newline: timestamp, level, spans with their fields,
/// target, fields.
fn line_head<S, N>(
    ctx: &FmtContext<'_, S, N>,
    writer: &mut Writer<'_>,
    event: &Event<'_>,
) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    let meta = event.metadata();
    if Timestamp.format_time(writer).is_err() {
        writer.write_str("<unknown time>")?;
    }
    writer.write_char(' ')?;
    writer.write_str(match *meta.level() {
        Level::TRACE => "TRACE ",
        Level::DEBUG => "DEBUG ",
        Level::INFO => " INFO ",
        Level::WARN => " WARN ",
        Level::ERROR => "ERROR ",
    })?;
    if let Some(scope) = ctx.event_scope() {
        let mut seen = false;
        for span in scope.from_root() {
            writer.write_str(span.metadata().name())?;
            let extensions = span.extensions();
            if let Some(fields) = extensions.get::<FormattedFields<N>>()
                && !fields.is_empty()
            {
                writer.write_char('{')?;
                writer.write_str(fields)?;
                writer.write_char('}')?;
            }
            writer.write_char(':')?;
            seen = true;
        }
        if seen {
            writer.write_char(' ')?;
        }
    }
    writer.write_str(meta.target())?;
    writer.write_str(": ")?;
    ctx.format_fields(writer.by_ref(), event)
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

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::telemetry::logs::fields::PrettyFields;
    use crate::telemetry::logs::test_buffer::Buffer;
    use crate::telemetry::propagation::TraceContext;

    /// The lines of a few events, spans and requests, each without its timestamp.
    fn lines(direct: bool) -> Vec<String> {
        let buffer = Buffer::default();
        let mut format = PrettyWithIds::new(false);
        format.direct = direct;
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .fmt_fields(PrettyFields)
            .event_format(format)
            .with_writer(buffer.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!("no fields");
            tracing::debug!(a = 1_u64, "debug");
            tracing::warn!(target: "custom::target", b = true, "warn");
            tracing::error!("error");
            let outer = tracing::info_span!("outer", id = 7_u64);
            let _outer = outer.enter();
            tracing::info!("in one span");
            let bare = tracing::info_span!("bare");
            bare.in_scope(|| tracing::info!(x = "y", "in two spans"));
            let ctx = TraceContext::new_root();
            ctx.in_scope(|| tracing::info!(status = 200_u64, "in a request"));
            let handler = tracing::info_span!("load item", item = 7_u64);
            let _handler = handler.enter();
            ctx.in_scope(|| tracing::info!("in a request inside a handler's span"));
        });
        let text = buffer.text();
        text.lines()
            .map(|line| masked(line.split_once(' ').expect("a timestamp").1))
            .collect()
    }

    /// `line` with the random ids after `trace_id=` and `span_id=` replaced by `*`.
    fn masked(line: &str) -> String {
        let mut out = String::new();
        let mut rest = line;
        while let Some(at) = rest.find("_id=") {
            let (head, tail) = rest.split_at(at + 4);
            out.push_str(head);
            let id = tail.bytes().take_while(u8::is_ascii_hexdigit).count();
            out.push('*');
            rest = &tail[id..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn written_directly_as_the_full_format_writes_it() {
        let (ours, theirs) = (lines(true), lines(false));
        assert_eq!(ours.len(), 8);
        assert_eq!(ours, theirs);
        assert!(ours[6].contains(" trace_id="), "{}", ours[6]);
        assert_eq!(ours[7].matches(" span_id=").count(), 1, "{}", ours[7]);
    }
}
