//! `baggage`: carried through, validated lightly and bounded (`tracestate` has a module of
//! its own).
//!
//! A single header line (the common case) is passed on as the same `HeaderValue` (a
//! reference-count increment, no copy). Several header lines are joined with `,` as HTTP
//! allows; only then is a new value allocated.

use http::{HeaderMap, HeaderName, HeaderValue};

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

/// `bytes` without the spaces and tabs around it (HTTP's optional whitespace).
pub(super) fn trim(bytes: &[u8]) -> &[u8] {
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

    fn baggage_of(h: &HeaderMap, n: &HeaderName) -> Option<HeaderValue> {
        baggage(joined(h, n))
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
