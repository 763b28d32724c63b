//! A lean JSON line format.
//!
//! `tracing-subscriber`'s own JSON format re-parses a span's stored fields with `serde_json`
//! for every event, and parses and re-serialises them on every `Span::record`. Here a span's
//! fields are stored as ready-made JSON members (`"k":v,"k2":v2`), appended to on `record`,
//! and spliced into each line as they are. A line:
//!
//! ```json
//! {"timestamp":"...","level":"INFO","target":"catalog","message":"fetching item","item":1,
//!  "trace_id":"4bf9...4736","span_id":"00f0...02b7","request_id":"req-42","span":{"name":"lookup","table":"items"}}
//! ```
//!
//! `trace_id`, `span_id` and `request_id` are those of the request the line is logged in
//! (see [`correlation`](super::correlation)); `span` is the current span with its fields, when
//! there is one.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::correlation::with_ids;
use super::fields::write_f64;
use super::timestamp::Timestamp;

/// Stores span fields as JSON object members without braces.
#[derive(Debug, Default)]
pub(crate) struct JsonMembers;

impl<'writer> FormatFields<'writer> for JsonMembers {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = Members::new(&mut writer, true);
        fields.record(&mut visitor);
        visitor.result
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let first = current.fields.is_empty();
        let mut writer = current.as_writer();
        let mut visitor = Members::new(&mut writer, first);
        fields.record(&mut visitor);
        visitor.result
    }
}

/// One JSON object per event line.
#[derive(Debug, Default)]
pub(crate) struct JsonLines;

impl<S> FormatEvent<S, JsonMembers> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonMembers>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        Timestamp.format_time(&mut writer)?;
        write!(writer, "\",\"level\":\"{}\",\"target\":", meta.level())?;
        write_str(&mut writer, meta.target())?;
        let mut visitor = Members::new(&mut writer, false);
        event.record(&mut visitor);
        visitor.result?;

        with_ids(|ids| {
            write!(
                writer,
                ",\"trace_id\":\"{}\",\"span_id\":\"{}\"",
                ids.trace_id, ids.span_id
            )?;
            match ids.request_id {
                Some(id) => {
                    writer.write_str(",\"request_id\":")?;
                    write_str(&mut writer, id)
                }
                None => Ok(()),
            }
        })
        .transpose()?;
        if let Some(span) = ctx.event_scope().and_then(|mut scope| scope.next()) {
            writer.write_str(",\"span\":{\"name\":")?;
            write_str(&mut writer, span.name())?;
            let extensions = span.extensions();
            if let Some(fields) = extensions.get::<FormattedFields<JsonMembers>>()
                && !fields.fields.is_empty()
            {
                writer.write_char(',')?;
                writer.write_str(&fields.fields)?;
            }
            writer.write_char('}')?;
        }
        writer.write_str("}\n")
    }
}

/// Writes fields as `"name":value` members.
struct Members<'a, 'w> {
    writer: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl<'a, 'w> Members<'a, 'w> {
    fn new(writer: &'a mut Writer<'w>, first: bool) -> Self {
        Self {
            writer,
            first,
            result: Ok(()),
        }
    }

    fn member(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'w>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        self.result = (|| {
            if !std::mem::take(&mut self.first) {
                self.writer.write_char(',')?;
            }
            write_str(self.writer, field.name())?;
            self.writer.write_char(':')?;
            value(self.writer)
        })();
    }
}

impl Visit for Members<'_, '_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.member(field, |w| write_f64(w, value, false));
        } else {
            self.member(field, |w| write!(w, "\"{value}\""));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |w| write_str(w, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |w| {
            w.write_char('"')?;
            write!(Escape(&mut *w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

/// A JSON string literal.
fn write_str(writer: &mut impl Write, value: &str) -> fmt::Result {
    writer.write_char('"')?;
    Escape(&mut *writer).write_str(value)?;
    writer.write_char('"')
}

/// Escapes JSON string content on the fly.
struct Escape<W>(W);

/// Bytes that must be escaped in a JSON string: controls, `"` and `\\`.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// The first byte that needs escaping, eight bytes per step while there is none.
fn find_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether any byte of `x` is below `n` (exact for n <= 0x80).
    let any_below = |x: u64, n: u64| x.wrapping_sub(n * ONES) & !x & HIGH != 0;
    let mut i = 0;
    while let Some(Ok(chunk)) = bytes.get(i..i + 8).map(<[u8; 8]>::try_from) {
        let x = u64::from_le_bytes(chunk);
        if any_below(x, 0x20)
            || any_below(x ^ (u64::from(b'"') * ONES), 1)
            || any_below(x ^ (u64::from(b'\\') * ONES), 1)
        {
            break;
        }
        i += 8;
    }
    bytes[i..]
        .iter()
        .position(|&b| NEEDS_ESCAPE[usize::from(b)])
        .map(|p| p + i)
}

impl<W: Write> Write for Escape<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let bytes = s.as_bytes();
        let mut start = 0;
        while let Some(offset) = find_escape(&bytes[start..]) {
            let i = start + offset;
            self.0.write_str(&s[start..i])?;
            match bytes[i] {
                b'"' => self.0.write_str("\\\""),
                b'\\' => self.0.write_str("\\\\"),
                b'\n' => self.0.write_str("\\n"),
                b'\r' => self.0.write_str("\\r"),
                b'\t' => self.0.write_str("\\t"),
                b => write!(self.0, "\\u{b:04x}"),
            }?;
            start = i + 1;
        }
        self.0.write_str(&s[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_json_strings() {
        let mut out = String::new();
        write_str(&mut out, "a\"b\\c\nd\u{1}é").expect("infallible");
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001é\"");
        let parsed: String = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(parsed, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn finds_every_escape_at_every_offset() {
        for len in 0..20 {
            for at in 0..len {
                for special in [b'"', b'\\', b'\n', 0x1f, 0] {
                    let mut bytes = vec![b'x'; len];
                    bytes[at] = special;
                    assert_eq!(find_escape(&bytes), Some(at), "{special} at {at} of {len}");
                }
                let mut bytes = "é".repeat(len).into_bytes();
                bytes.push(b' ');
                assert_eq!(find_escape(&bytes), None);
            }
        }
    }
}
