//! The timestamp of a log line, `2026-11-27T15:41:05.123456Z`: what `tracing-subscriber`'s
//! `SystemTime` writes, at a fraction of the cost. The date and time up to the second are
//! worked out once a second per thread; each line adds only its microseconds.

use std::cell::Cell;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// `YYYY-MM-DDTHH:MM:SS.`
const PREFIX: usize = 20;

thread_local! {
    /// The last second formatted on this thread, and its prefix.
    static LAST: Cell<(u64, [u8; PREFIX])> = const { Cell::new((u64::MAX, [0; PREFIX])) };
}

/// RFC 3339 in UTC with microseconds, as `tracing_subscriber::fmt::time::SystemTime`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Timestamp;

impl FormatTime for Timestamp {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) else {
            // A clock before 1970: rare enough for the general formatter.
            return tracing_subscriber::fmt::time::SystemTime.format_time(w);
        };
        let secs = now.as_secs();
        let prefix = LAST.with(|last| {
            let (cached, prefix) = last.get();
            if cached == secs {
                return Some(prefix);
            }
            let prefix = date_time(secs)?;
            last.set((secs, prefix));
            Some(prefix)
        });
        let Some(prefix) = prefix else {
            return tracing_subscriber::fmt::time::SystemTime.format_time(w);
        };
        let mut line = [0; PREFIX + 7];
        line[..PREFIX].copy_from_slice(&prefix);
        digits(&mut line[PREFIX..PREFIX + 6], now.subsec_micros());
        line[PREFIX + 6] = b'Z';
        // ASCII digits and punctuation only.
        w.write_str(std::str::from_utf8(&line).map_err(|_| fmt::Error)?)
    }
}

/// `YYYY-MM-DDTHH:MM:SS.` of `secs` after the Unix epoch, `None` past year 9999.
fn date_time(secs: u64) -> Option<[u8; PREFIX]> {
    let days = secs / 86_400;
    let of_day = u32::try_from(secs % 86_400).ok()?;
    let (year, month, day) = civil(days);
    if year > 9999 {
        return None;
    }
    let mut out = *b"0000-00-00T00:00:00.";
    digits(&mut out[0..4], u32::try_from(year).ok()?);
    digits(&mut out[5..7], month);
    digits(&mut out[8..10], day);
    digits(&mut out[11..13], of_day / 3600);
    digits(&mut out[14..16], of_day / 60 % 60);
    digits(&mut out[17..19], of_day % 60);
    Some(out)
}

/// Year, month and day of a count of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for dates from 1970 on).
fn civil(days: u64) -> (u64, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both below 32: day of month and month.
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(0);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(0);
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// `value` as decimal digits filling `out`, zero-padded on the left.
fn digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        // A digit: below 10.
        *slot = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> String {
        String::from_utf8(date_time(secs).expect("before 10000").to_vec()).expect("ascii")
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(at(0), "1970-01-01T00:00:00.");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00.");
        assert_eq!(at(1_709_251_199), "2024-02-29T23:59:59.");
        assert_eq!(at(1_798_761_599), "2026-12-31T23:59:59.");
        assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00.");
        assert_eq!(at(253_402_300_799), "9999-12-31T23:59:59.");
        assert!(date_time(253_402_300_800).is_none());
    }

    /// Formats with `timer` into a string.
    fn line(timer: &impl FormatTime) -> String {
        let mut out = String::new();
        timer
            .format_time(&mut Writer::new(&mut out))
            .expect("formatted");
        out
    }

    #[test]
    fn the_same_text_as_tracing_subscriber() {
        // Compared up to the second; retried if a second ends between the two clock reads.
        for _ in 0..5 {
            let (ours, theirs) = (
                line(&Timestamp),
                line(&tracing_subscriber::fmt::time::SystemTime),
            );
            assert_eq!(ours.len(), theirs.len(), "{ours} / {theirs}");
            if ours[..PREFIX] == theirs[..PREFIX] {
                assert!(ours.ends_with('Z'));
                return;
            }
        }
        panic!("the timestamps never agreed to the second");
    }
}
