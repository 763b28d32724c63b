//! Writing a list anew, truncated to [`TRACESTATE_MAX_LEN`] as W3C Trace Context §3.3.1.5
//! says: "the vendor MUST truncate whole entries. Entries larger than 128 characters long
//! SHOULD be removed first. Then entries SHOULD be removed starting from the end".

use http::HeaderValue;

use super::{TRACESTATE_MAX_LEN, TRACESTATE_MAX_MEMBERS};

/// Entries longer than this go first when the list must be truncated.
const LARGE_ENTRY: usize = 128;

/// The `members` of a valid list joined by `,`, as many as fit in [`TRACESTATE_MAX_LEN`]
/// bytes: entries longer than 128 bytes are removed first, the last first, then entries from
/// the end, only until the rest fits. `None` when none is left.
pub(super) fn to_fit(members: &[&[u8]]) -> Option<HeaderValue> {
    let mut kept = [true; TRACESTATE_MAX_MEMBERS];
    // Each member with the comma after it; the last has none.
    let mut len = members.iter().map(|m| m.len() + 1).sum::<usize>();
    let fits = |len: usize| len <= TRACESTATE_MAX_LEN + 1;
    for large_first in [true, false] {
        for (i, member) in members.iter().enumerate().rev() {
            if fits(len) {
                break;
            }
            if kept[i] && (!large_first || member.len() > LARGE_ENTRY) {
                kept[i] = false;
                len -= member.len() + 1;
            }
        }
    }
    let mut out = Vec::with_capacity(len);
    for member in members.iter().zip(kept).filter_map(|(m, k)| k.then_some(m)) {
        if !out.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(member);
    }
    if out.is_empty() {
        return None;
    }
    // Valid members are visible ASCII.
    HeaderValue::from_maybe_shared(bytes::Bytes::from(out)).ok()
}
