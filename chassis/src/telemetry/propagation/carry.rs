//! `tracestate` and `baggage`: carried through, validated lightly and bounded.
//!
//! A single well-formed header (the common case) is passed on as the same `HeaderValue`
//! (a reference-count increment, no copy). Several header lines are joined with `,` as HTTP
//! allows; only then, or when `tracestate` must be truncated, is a new value allocated.

use http::{HeaderMap, HeaderName, HeaderValue};

/// `tracestate` kept up to this many bytes (the W3C minimum vendors must propagate).
pub const TRACESTATE_MAX_LEN: usize = 512;
/// At most this many `tracestate` list members (W3C).
pub const TRACESTATE_MAX_MEMBERS: usize = 32;
/// `baggage` dropped above this many bytes (W3C Baggage limit).
pub const BAGGAGE_MAX_LEN: usize = 8192;
/// `baggage` dropped above this many list members (W3C Baggage limit).
pub const BAGGAGE_MAX_MEMBERS: usize = 180;

/// The value of a header seen `count` times, `first` being the first line: that line itself
/// (the common case, no copy) or all lines joined by `,` (bounded at 8 KiB).
pub(crate) fn lines(
    headers: &HeaderMap,
    name: &HeaderName,
    first: &HeaderValue,
    count: usize,
) -> Option<HeaderValue> {
    if count <= 1 {
        return Some(first.clone());
    }
    combined(headers, name, BAGGAGE_MAX_LEN)
}

/// The inbound `tracestate` if well formed, truncated to the W3C bound.
pub(crate) fn tracestate(value: HeaderValue) -> Option<HeaderValue> {
    if value.len() > BAGGAGE_MAX_LEN {
        return None;
    }
    let bytes = value.as_bytes();
    let mut members = 0;
    for member in bytes.split(|&b| b == b',') {
        let member = trim(member);
        if member.is_empty() {
            continue;
        }
        if !valid_member(member) {
            return None;
        }
        members += 1;
    }
    if members == 0 || members > TRACESTATE_MAX_MEMBERS {
        return None;
    }
    if bytes.len() <= TRACESTATE_MAX_LEN {
        return Some(value);
    }
    truncate(bytes)
}

/// The inbound `baggage`, or `None` when beyond the W3C limits.
pub(crate) fn baggage(value: HeaderValue) -> Option<HeaderValue> {
    let bytes = value.as_bytes();
    if bytes.len() > BAGGAGE_MAX_LEN {
        return None;
    }
    let visible = bytes
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
    let members = bytes.split(|&b| b == b',').count();
    (visible && members <= BAGGAGE_MAX_MEMBERS && !trim(bytes).is_empty()).then_some(value)
}

/// All lines of a header joined by `,`, `None` if absent or longer than `max`.
fn combined(headers: &HeaderMap, name: &HeaderName, max: usize) -> Option<HeaderValue> {
    let mut lines = headers.get_all(name).iter();
    let first = lines.next()?;
    let Some(second) = lines.next() else {
        return (first.len() <= max).then(|| first.clone());
    };
    let mut joined = Vec::with_capacity(first.len() + second.len() + 1);
    joined.extend_from_slice(first.as_bytes());
    for line in std::iter::once(second).chain(lines) {
        joined.push(b',');
        joined.extend_from_slice(line.as_bytes());
        if joined.len() > max {
            return None;
        }
    }
    HeaderValue::from_bytes(&joined).ok()
}

/// `key=value` with a W3C key (lower-case, digits, `_-*/@`) and a printable value.
fn valid_member(member: &[u8]) -> bool {
    let Some(eq) = member.iter().position(|&b| b == b'=') else {
        return false;
    };
    let (key, value) = (&member[..eq], &member[eq + 1..]);
    let key_ok = (1..=256).contains(&key.len())
        && key.iter().all(|&b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@')
        });
    let value_ok = (1..=256).contains(&value.len())
        && value
            .iter()
            .all(|&b| (0x20..0x7f).contains(&b) && b != b',' && b != b'=')
        && value.last() != Some(&b' ');
    key_ok && value_ok
}

/// Drops members longer than 128 bytes, then members from the end, until it fits (W3C).
fn truncate(bytes: &[u8]) -> Option<HeaderValue> {
    let mut out = Vec::with_capacity(TRACESTATE_MAX_LEN);
    for member in bytes.split(|&b| b == b',').map(trim) {
        if member.is_empty() || member.len() > 128 {
            continue;
        }
        let extra = member.len() + usize::from(!out.is_empty());
        if out.len() + extra > TRACESTATE_MAX_LEN {
            break;
        }
        if !out.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(member);
    }
    if out.is_empty() {
        return None;
    }
    HeaderValue::from_bytes(&out).ok()
}

fn trim(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, lines: &[&str]) -> (HeaderMap, HeaderName) {
        let name = HeaderName::from_static(name);
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(name.clone(), HeaderValue::from_str(line).expect("valid"));
        }
        (map, name)
    }

    fn joined(h: &HeaderMap, n: &HeaderName) -> HeaderValue {
        let count = h.get_all(n).iter().count();
        lines(h, n, h.get(n).expect("present"), count).expect("within bound")
    }

    fn tracestate_of(h: &HeaderMap, n: &HeaderName) -> Option<HeaderValue> {
        tracestate(joined(h, n))
    }

    fn baggage_of(h: &HeaderMap, n: &HeaderName) -> Option<HeaderValue> {
        baggage(joined(h, n))
    }

    #[test]
    fn tracestate_single_line_is_kept() {
        let (h, n) = headers("tracestate", &["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"]);
        assert_eq!(
            tracestate_of(&h, &n).expect("kept"),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
        );
    }

    #[test]
    fn tracestate_lines_are_joined() {
        let (h, n) = headers("tracestate", &["rojo=1", "congo=2"]);
        assert_eq!(tracestate_of(&h, &n).expect("kept"), "rojo=1,congo=2");
    }

    #[test]
    fn tracestate_malformed_is_dropped() {
        for bad in ["nokey", "UPPER=1", "a=", "=b", "a=b=c"] {
            let (h, n) = headers("tracestate", &[bad]);
            assert!(tracestate_of(&h, &n).is_none(), "{bad}");
        }
        let many = (0..33)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        let (h, n) = headers("tracestate", &[&many]);
        assert!(tracestate_of(&h, &n).is_none());
    }

    #[test]
    fn tracestate_is_truncated_to_512_bytes() {
        let long = format!("big={}", "x".repeat(200));
        let mut members = vec![long];
        members.extend((0..20).map(|i| format!("k{i:02}={}", "v".repeat(20))));
        let (h, n) = headers("tracestate", &[&members.join(",")]);
        let kept = tracestate_of(&h, &n).expect("kept");
        assert!(kept.len() <= TRACESTATE_MAX_LEN);
        let text = kept.to_str().expect("ascii");
        assert!(!text.contains("big="), "large member dropped first");
        assert!(text.starts_with("k00="));
    }

    #[test]
    fn baggage_is_bounded() {
        let (h, n) = headers("baggage", &["userId=alice,serverNode=DF%2028"]);
        assert_eq!(
            baggage_of(&h, &n).expect("kept"),
            "userId=alice,serverNode=DF%2028"
        );
        let huge = "a=".to_owned() + &"b".repeat(BAGGAGE_MAX_LEN);
        let (h, n) = headers("baggage", &[&huge]);
        assert!(baggage_of(&h, &n).is_none());
    }
}
