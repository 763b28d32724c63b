//! The inbound `tracestate`: validated to the letter of W3C Trace Context Level 1
//! (Recommendation, 23 November 2021), bounded, and carried on.
//!
//! What the Recommendation says, and what we do:
//!
//! - §3.3: `tracestate` is parsed only when `traceparent` was
//!   ([`TraceContext::from_headers`](super::TraceContext::from_headers) ignores it otherwise).
//! - §3.3.1.1: several `tracestate` lines are one list, combined as RFC 7230 §3.2.2 says (in
//!   order, joined by `,`). Spaces and tabs around members are ignored; empty and
//!   whitespace-only members are allowed (skipped); an empty header is accepted, and nothing
//!   is sent on for it. At most 32 members (the empty ones not counted).
//! - §3.3.1.3: each member is `key=value` by the ABNF (see `grammar`).
//! - §3.3.1.4: only one entry per key is allowed.
//! - §4.3 step 3: "If the `tracestate` header cannot be parsed the vendor MAY discard the
//!   entire header. Invalid `tracestate` entries MAY also be discarded." A header that breaks
//!   any rule above (a bad member, a repeated key, a 33rd member) is not a `tracestate` the
//!   grammar produces, so it is discarded whole: what the W3C test suite expects at its
//!   strict level (`test_tracestate_key_illegal_characters`, `..._duplicated_keys`,
//!   `..._member_count_limit`). Keeping the valid members of a broken list would forward a
//!   state its writer never sent. §3.3 also says a bad `tracestate` never affects
//!   `traceparent`: the trace continues either way.
//! - §3.3.1.5: we propagate up to 512 characters (commas included). Beyond that whole
//!   entries are removed: those longer than 128 characters first (the last first), then from
//!   the end, only until the list fits.
//!
//! A single well-formed line of at most 512 bytes (the common case) is passed on as the same
//! `HeaderValue` (a reference-count increment, no copy, no allocation); only a combined or
//! truncated list is written anew, without its optional whitespace and empty members.

mod grammar;
mod truncate;

use http::{HeaderMap, HeaderValue};

use super::TRACESTATE;
use super::carry::trim;

/// `tracestate` kept up to this many bytes (the W3C minimum vendors should propagate).
pub const TRACESTATE_MAX_LEN: usize = 512;
/// At most this many `tracestate` list members (W3C).
pub const TRACESTATE_MAX_MEMBERS: usize = 32;
/// Inbound `tracestate` lines longer than this together are discarded unread (§7.2, denial
/// of service): twice the longest well-formed list (32 members of a 256-character key and
/// value, 16,447 bytes), room for optional whitespace.
const INBOUND_MAX_LEN: usize = 32 * 1024;

/// The `tracestate` to carry on, from its `lines` header lines (`first` being the first):
/// `None` when absent, empty or invalid.
pub(crate) fn inbound(
    headers: &HeaderMap,
    first: &HeaderValue,
    lines: usize,
) -> Option<HeaderValue> {
    if lines <= 1 && first.len() <= TRACESTATE_MAX_LEN {
        // The common case, checked in place and passed on as it came.
        return valid(members(first.as_bytes())).then(|| first.clone());
    }
    // Combined (RFC 7230 §3.2.2) or too long: written anew.
    let mut list = Vec::with_capacity(TRACESTATE_MAX_MEMBERS);
    let mut len = 0;
    for line in headers.get_all(TRACESTATE) {
        len += line.len() + 1;
        if len > INBOUND_MAX_LEN {
            return None;
        }
        let room = TRACESTATE_MAX_MEMBERS + 1 - list.len();
        list.extend(members(line.as_bytes()).take(room));
        if list.len() > TRACESTATE_MAX_MEMBERS {
            return None;
        }
    }
    if !valid(list.iter().copied()) {
        return None;
    }
    truncate::to_fit(&list)
}

/// The non-empty members of a line, without the optional whitespace around them.
fn members(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b',')
        .map(trim)
        .filter(|member| !member.is_empty())
}

/// Whether `members` make a list to carry on: at least one, at most 32, each well formed,
/// no key twice.
fn valid<'a>(members: impl Iterator<Item = &'a [u8]>) -> bool {
    let mut keys: [&[u8]; TRACESTATE_MAX_MEMBERS] = [&[]; TRACESTATE_MAX_MEMBERS];
    let mut count = 0;
    for member in members {
        let Some(key) = grammar::member(member) else {
            return false;
        };
        if count == TRACESTATE_MAX_MEMBERS || keys[..count].contains(&key) {
            return false;
        }
        keys[count] = key;
        count += 1;
    }
    count > 0
}

#[cfg(test)]
mod tests;
