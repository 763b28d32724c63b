//! The `grpc-timeout` header: the caller's remaining budget, as gRPC writes it.
//!
//! `grpc-timeout: <digits><unit>`, at most eight ASCII digits and one unit of `H` (hours),
//! `M` (minutes), `S` (seconds), `m` (milliseconds), `u` (microseconds) or `n`
//! (nanoseconds), relative to the moment the call was sent
//! ([the gRPC over HTTP/2 protocol](https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md)).
//! The server reads it as the call's deadline under the same trust rules and the same cap
//! as `x-request-timeout-ms`; the gRPC channel writes it from what is left of the deadline.

use std::time::Duration;

use http::{HeaderName, HeaderValue};

/// The gRPC deadline header.
pub const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");

/// The most digits a value may have.
const MAX_DIGITS: usize = 8;
/// The largest value of eight digits.
const MAX_VALUE: u64 = 99_999_999;

/// Parses a `grpc-timeout` value; `None` for anything malformed (no digits, more than eight,
/// an unknown unit), which the server ignores as it ignores a malformed deadline header.
///
/// ```
/// use std::time::Duration;
/// use chassis::grpc::parse_grpc_timeout;
/// use http::HeaderValue;
///
/// assert_eq!(parse_grpc_timeout(&HeaderValue::from_static("250m")), Some(Duration::from_millis(250)));
/// assert_eq!(parse_grpc_timeout(&HeaderValue::from_static("2S")), Some(Duration::from_secs(2)));
/// assert_eq!(parse_grpc_timeout(&HeaderValue::from_static("1.5S")), None);
/// ```
pub fn parse_grpc_timeout(value: &HeaderValue) -> Option<Duration> {
    let bytes = value.as_bytes();
    let (&unit, digits) = bytes.split_last()?;
    if digits.is_empty() || digits.len() > MAX_DIGITS || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u64, |n, digit| n * 10 + u64::from(digit - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Formats a remaining budget in the finest unit that fits eight digits, rounded down (the
/// callee never gets more time than is left).
pub(crate) fn format_grpc_timeout(remaining: Duration) -> HeaderValue {
    let units: [(u128, &str); 6] = [
        (1, "n"),
        (1_000, "u"),
        (1_000_000, "m"),
        (1_000_000_000, "S"),
        (60_000_000_000, "M"),
        (3_600_000_000_000, "H"),
    ];
    let nanos = remaining.as_nanos();
    let (value, unit) = units
        .iter()
        .map(|&(size, unit)| (nanos / size, unit))
        .find(|&(value, _)| value <= u128::from(MAX_VALUE))
        .unwrap_or((u128::from(MAX_VALUE), "H"));
    HeaderValue::from_str(&format!("{value}{unit}")).unwrap_or(HeaderValue::from_static("0n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("1H", Some(Duration::from_secs(3600))),
            ("3M", Some(Duration::from_secs(180))),
            ("10S", Some(Duration::from_secs(10))),
            ("250m", Some(Duration::from_millis(250))),
            ("7u", Some(Duration::from_micros(7))),
            ("99999999n", Some(Duration::from_nanos(99_999_999))),
            ("0m", Some(Duration::ZERO)),
            ("123456789m", None),
            ("m", None),
            ("", None),
            ("10", None),
            ("10s", None),
            ("-1S", None),
            (" 1S", None),
            ("1.5S", None),
        ];
        for (text, want) in cases {
            let value = HeaderValue::from_str(text).expect("header");
            assert_eq!(parse_grpc_timeout(&value), *want, "{text:?}");
        }
    }

    #[test]
    fn format_picks_the_finest_unit_that_fits_and_round_trips_down() {
        assert_eq!(format_grpc_timeout(Duration::from_nanos(500)), "500n");
        assert_eq!(format_grpc_timeout(Duration::from_millis(250)), "250000u");
        assert_eq!(format_grpc_timeout(Duration::from_secs(2)), "2000000u");
        assert_eq!(format_grpc_timeout(Duration::from_secs(200)), "200000m");
        let year = Duration::from_secs(86_400 * 365);
        assert_eq!(format_grpc_timeout(year), "31536000S");
        assert_eq!(format_grpc_timeout(year * 10), "5256000M");
        for budget in [Duration::from_micros(1_234_567), Duration::from_secs(7_777)] {
            let parsed = parse_grpc_timeout(&format_grpc_timeout(budget)).expect("parses");
            assert!(parsed <= budget && budget.saturating_sub(parsed) < Duration::from_millis(1));
        }
    }
}
