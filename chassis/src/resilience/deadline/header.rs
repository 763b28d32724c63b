//! The `x-request-timeout-ms` header.

use std::time::Duration;

use http::{HeaderName, HeaderValue};

/// The deadline header: the caller's remaining budget in whole milliseconds.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-timeout-ms");

/// The largest accepted header value (one day); anything larger is treated as malformed.
pub const MAX_HEADER_MS: u64 = 86_400_000;

/// Parses a header value: ASCII digits only (surrounding spaces allowed), at most
/// [`MAX_HEADER_MS`]. Returns `None` for anything else.
///
/// ```
/// use std::time::Duration;
/// use chassis::resilience::deadline::parse_header;
/// use http::HeaderValue;
///
/// assert_eq!(parse_header(&HeaderValue::from_static("250")), Some(Duration::from_millis(250)));
/// assert_eq!(parse_header(&HeaderValue::from_static("-5")), None);
/// ```
pub fn parse_header(value: &HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms: u64 = text.parse().ok()?;
    (ms <= MAX_HEADER_MS).then(|| Duration::from_millis(ms))
}

/// Formats a remaining budget, rounded down to whole milliseconds.
pub(crate) fn format(remaining: Duration) -> HeaderValue {
    let ms = u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX);
    HeaderValue::from(ms.min(MAX_HEADER_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let cases: &[(&[u8], Option<u64>)] = &[
            (b"0", Some(0)),
            (b"250", Some(250)),
            (b" 1500 ", Some(1500)),
            (b"86400000", Some(86_400_000)),
            (b"86400001", None),
            (b"", None),
            (b"   ", None),
            (b"-5", None),
            (b"+5", None),
            (b"1.5", None),
            (b"abc", None),
            (b"12ms", None),
            (b"99999999999999999999999", None),
            (b"18446744073709551616", None),
            (b"\xff\xfe", None),
        ];
        for (raw, want) in cases {
            let value = HeaderValue::from_bytes(raw).expect("valid header bytes");
            assert_eq!(
                parse_header(&value),
                want.map(Duration::from_millis),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn format_rounds_down_and_caps() {
        assert_eq!(format(Duration::from_micros(1999)), "1");
        assert_eq!(format(Duration::from_secs(86_400 * 365)), "86400000");
    }
}
