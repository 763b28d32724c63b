//! The fields of a text line: exactly what `tracing-subscriber`'s `DefaultFields` writes,
//! without its detour through `Debug` and colour wrappers for the common fields (plain
//! strings, numbers, booleans, the message). Anything else, and every field when the output
//! has colours, goes to `DefaultVisitor` itself.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{RecordFields, VisitOutput};
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};

/// `DefaultFields`' output, faster.
#[derive(Debug, Default)]
pub(crate) struct PrettyFields;

impl<'writer> FormatFields<'writer> for PrettyFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Fields {
            writer,
            is_empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

/// Writes `name=value` pairs separated by spaces, the message bare.
struct Fields<'a> {
    writer: Writer<'a>,
    is_empty: bool,
    result: fmt::Result,
}

impl Fields<'_> {
    /// Writes `name=` and the value, when the field takes the plain path.
    fn pair(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let pad = !std::mem::take(&mut self.is_empty);
        let writer = &mut self.writer;
        self.result = (|| {
            if pad {
                writer.write_char(' ')?;
            }
            writer.write_str(field.name())?;
            writer.write_char('=')?;
            value(writer)
        })();
    }

    /// Whether `field` takes the plain path: no colours, a name as `DefaultVisitor` writes
    /// it as is. (`log.` fields, which it skips, are skipped before.)
    fn plain(&self, field: &Field) -> bool {
        let name = field.name();
        !self.writer.has_ansi_escapes() && name != "message" && !name.starts_with("r#")
    }

    /// The message, sanitised as `DefaultVisitor` does.
    fn message(&mut self, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let pad = !std::mem::take(&mut self.is_empty);
        let sanitize = self.writer.sanitizes_ansi_escapes();
        let writer = &mut self.writer;
        self.result = (|| {
            if pad {
                writer.write_char(' ')?;
            }
            if sanitize {
                write!(Sanitize(writer), "{value:?}")
            } else {
                write!(writer, "{value:?}")
            }
        })();
    }

    /// Hands the field to `DefaultVisitor`.
    fn default(&mut self, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        if self.result.is_err() {
            return;
        }
        let mut visitor = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        record(&mut visitor);
        self.result = visitor.finish();
        self.is_empty = false;
    }
}

/// `DefaultVisitor` skips the `log.` fields of events that came from the `log` crate.
fn skipped(field: &Field) -> bool {
    field.name().starts_with("log.")
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if skipped(field) {
        } else if field.name() == "message" && !self.writer.has_ansi_escapes() {
            self.message(&format_args!("{value}"));
        } else if self.plain(field) && debug_is_quoted(value) {
            self.pair(field, |w| {
                w.write_char('"')?;
                w.write_str(value)?;
                w.write_char('"')
            });
        } else {
            self.default(|v| v.record_str(field, value));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if skipped(field) {
        } else if self.plain(field) {
            self.pair(field, |w| w.write_str(itoa(value, &mut [0; 20])));
        } else {
            self.default(|v| v.record_u64(field, value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if skipped(field) {
        } else if self.plain(field) {
            self.pair(field, |w| {
                if value < 0 {
                    w.write_char('-')?;
                }
                w.write_str(itoa(value.unsigned_abs(), &mut [0; 20]))
            });
        } else {
            self.default(|v| v.record_i64(field, value));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if skipped(field) {
        } else if self.plain(field) {
            self.pair(field, |w| w.write_str(if value { "true" } else { "false" }));
        } else {
            self.default(|v| v.record_bool(field, value));
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if skipped(field) {
        } else if self.plain(field) {
            self.pair(field, |w| write_f64(w, value, true));
        } else {
            self.default(|v| v.record_f64(field, value));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if !skipped(field) {
            self.default(|v| v.record_error(field, value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if skipped(field) {
        } else if field.name() == "message" && !self.writer.has_ansi_escapes() {
            self.message(value);
        } else {
            self.default(|v| v.record_debug(field, value));
        }
    }
}

/// Whether `Debug` writes `value` as itself in quotes: printable ASCII but `"` and `\`.
fn debug_is_quoted(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// `value` as `Debug` (when `debug`) or `Display` writes it; without the float formatter
/// when it is a whole number of thousandths, such as a duration in milliseconds measured to
/// the microsecond. That decimal is then its shortest exact form, which both write.
pub(super) fn write_f64(w: &mut impl Write, value: f64, debug: bool) -> fmt::Result {
    let thousandths = (value * 1000.0).round();
    let exact = (thousandths / 1000.0).to_bits() == value.to_bits();
    if exact && value.is_sign_positive() && thousandths < 1e15 {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a whole number from 0 to 1e15"
        )]
        let n = thousandths as u64;
        w.write_str(itoa(n / 1000, &mut [0; 20]))?;
        let fraction = n % 1000;
        if fraction != 0 {
            let mut digits = [b'.', b'0', b'0', b'0'];
            let mut rest = fraction;
            for digit in digits[1..].iter_mut().rev() {
                // A digit: below 10.
                *digit = b'0' + u8::try_from(rest % 10).unwrap_or(0);
                rest /= 10;
            }
            let end = match fraction {
                n if n % 100 == 0 => 2,
                n if n % 10 == 0 => 3,
                _ => 4,
            };
            return w.write_str(std::str::from_utf8(&digits[..end]).map_err(|_| fmt::Error)?);
        }
        return if debug { w.write_str(".0") } else { Ok(()) };
    }
    if debug {
        write!(w, "{value:?}")
    } else {
        write!(w, "{value}")
    }
}

/// `value` in decimal, in the tail of `buf`.
fn itoa(mut value: u64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        // A digit: below 10.
        buf[at] = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
        if value == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

/// Escapes what a terminal would take for control sequences, as `tracing-subscriber`
/// escapes a message: ESC, BEL, BS, FF, DEL and the C1 controls.
struct Sanitize<'w, 'a>(&'w mut Writer<'a>);

impl Write for Sanitize<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // 0xc2 leads the UTF-8 encoding of U+0080..U+00BF, the C1 controls among them.
        if !s
            .bytes()
            .any(|b| matches!(b, 0x07 | 0x08 | 0x0c | 0x1b | 0x7f | 0xc2))
        {
            return self.0.write_str(s);
        }
        for ch in s.chars() {
            match ch {
                '\x1b' => self.0.write_str("\\x1b")?,
                '\x07' => self.0.write_str("\\x07")?,
                '\x08' => self.0.write_str("\\x08")?,
                '\x0c' => self.0.write_str("\\x0c")?,
                '\x7f' => self.0.write_str("\\x7f")?,
                '\u{80}'..='\u{9f}' => write!(self.0, "\\u{{{:x}}}", u32::from(ch))?,
                _ => self.0.write_char(ch)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::telemetry::logs::test_buffer::Buffer;

    #[derive(Debug)]
    struct Failure;

    impl std::fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("it broke")
        }
    }

    impl std::error::Error for Failure {}

    /// Every kind of field, through `fields` (colours or not), as text.
    fn lines<N>(fields: N, ansi: bool) -> String
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let buffer = Buffer::default();
        let layer = tracing_subscriber::fmt::layer()
            .without_time()
            .with_ansi(ansi)
            .fmt_fields(fields)
            .with_writer(buffer.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("outer", id = 7_u64, name = "a \"b\"");
            let _entered = span.enter();
            tracing::info!(
                method = "GET",
                route = "/items/{id}",
                status = 200_u16,
                delta = -3_i64,
                duration_ms = 0.266,
                whole = 1.0,
                huge = 1e20,
                nan = f64::NAN,
                ok = true,
                "request completed"
            );
            tracing::info!(
                quoted = "say \"hi\"",
                path = "C:\\x",
                tab = "a\tb",
                accent = "café"
            );
            tracing::info!(ctl = "\x1b[31mred", r#type = "raw", list = ?vec![1, 2], shown = %"x y");
            tracing::warn!(error = &Failure as &dyn std::error::Error, "failed: {}", 42);
            tracing::info!("escape \x1b[2J bell \x07 c1 \u{85} del \x7f");
            tracing::info!("only an escape: \x1b[2J");
            tracing::info!("only a C1 control: \u{9b}2J");
            tracing::info!(message = "a message field", after = 1_u64);
            tracing::info!(big = u64::MAX, small = i64::MIN, wide = 7_u128);
            tracing::info!("");
        });
        buffer.text()
    }

    #[test]
    fn the_same_text_as_default_fields() {
        for ansi in [false, true] {
            let ours = lines(PrettyFields, ansi);
            let theirs = lines(tracing_subscriber::fmt::format::DefaultFields::new(), ansi);
            assert_eq!(ours, theirs, "ansi: {ansi}");
            assert!(ansi || ours.contains(" duration_ms=0.266 "), "{ours}");
        }
    }

    #[test]
    fn floats_as_debug_and_display_write_them() {
        let mut values: Vec<f64> = (0..200_000).map(|n| f64::from(n) / 1000.0).collect();
        values.extend([
            0.1 + 0.2,
            -0.0,
            -1.5,
            f64::NAN,
            f64::INFINITY,
            1e20,
            123_456_789.123,
            999_999_999_999.999,
            1e12,
            0.000_1,
            1.0 / 3.0,
        ]);
        for value in values {
            for debug in [true, false] {
                let mut ours = String::new();
                write_f64(&mut ours, value, debug).expect("written");
                let theirs = if debug {
                    format!("{value:?}")
                } else {
                    format!("{value}")
                };
                assert_eq!(ours, theirs, "{value:?}");
            }
        }
    }

    #[test]
    fn itoa_writes_decimal() {
        for value in [0, 7, 10, 999, 1_000_000, u64::MAX] {
            assert_eq!(itoa(value, &mut [0; 20]), value.to_string());
        }
    }
}
