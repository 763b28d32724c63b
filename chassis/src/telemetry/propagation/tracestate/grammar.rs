//! The `tracestate` list-member grammar of W3C Trace Context Level 1 (Recommendation,
//! 23 November 2021), §3.3.1.2 to §3.3.1.3.2, checked byte by byte without allocating.
//!
//! ```abnf
//! list-member      = (key "=" value) / OWS
//! key              = simple-key / multi-tenant-key
//! simple-key       = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//! multi-tenant-key = tenant-id "@" system-id
//! tenant-id        = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//! system-id        = lcalpha 0*13( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//! value            = 0*255(chr) nblk-chr
//! nblk-chr         = %x21-2B / %x2D-3C / %x3E-7E
//! chr              = %x20 / nblk-chr
//! ```
//!
//! A simple key starts with a letter. The Recommendation's §3.3.1.3.1 *note* says
//! identifiers may begin "with a lowercase letter or a digit", but notes are non-normative
//! (§1) and the ABNF allows a leading digit only in a tenant id; Level 2 (a Candidate
//! Recommendation, not a Recommendation) drops the two key forms for one that lets any key
//! start with a digit. We follow the Recommendation's ABNF.

/// Longest simple key.
const SIMPLE_KEY_MAX: usize = 256;
/// Longest tenant id of a multi-tenant key.
const TENANT_MAX: usize = 241;
/// Longest system id of a multi-tenant key.
const SYSTEM_MAX: usize = 14;
/// Longest value.
const VALUE_MAX: usize = 256;

/// The key of a well-formed `key=value` member (already stripped of its surrounding OWS),
/// `None` when the member breaks the grammar.
pub(super) fn member(member: &[u8]) -> Option<&[u8]> {
    let eq = member.iter().position(|&b| b == b'=')?;
    let (key, value) = (&member[..eq], &member[eq + 1..]);
    (is_key(key) && is_value(value)).then_some(key)
}

/// `simple-key / multi-tenant-key`.
pub(super) fn is_key(key: &[u8]) -> bool {
    match key.iter().position(|&b| b == b'@') {
        None => id(key, SIMPLE_KEY_MAX, false),
        // A second `@` is not a tail character, so `system-id` rejects it.
        Some(at) => id(&key[..at], TENANT_MAX, true) && id(&key[at + 1..], SYSTEM_MAX, false),
    }
}

/// `value`: 1 to 256 printable ASCII characters but `,` and `=`, not ending in a space.
pub(super) fn is_value(value: &[u8]) -> bool {
    match value.split_last() {
        Some((&last, rest)) => {
            value.len() <= VALUE_MAX && is_nblk_chr(last) && rest.iter().all(|&b| is_chr(b))
        }
        None => false,
    }
}

/// An identifier of 1 to `max` characters: `lcalpha` first (or a digit when
/// `digit_first`), then `lcalpha / DIGIT / "_" / "-" / "*" / "/"`.
fn id(id: &[u8], max: usize, digit_first: bool) -> bool {
    match id.split_first() {
        Some((&first, tail)) => {
            id.len() <= max
                && (first.is_ascii_lowercase() || (digit_first && first.is_ascii_digit()))
                && tail.iter().all(|&b| is_key_tail(b))
        }
        None => false,
    }
}

fn is_key_tail(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/')
}

/// `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E`: printable, not space, `,` or `=`.
fn is_nblk_chr(b: u8) -> bool {
    matches!(b, 0x21..=0x2B | 0x2D..=0x3C | 0x3E..=0x7E)
}

/// `chr = %x20 / nblk-chr`.
fn is_chr(b: u8) -> bool {
    b == b' ' || is_nblk_chr(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_characters_are_exactly_the_abnf_ranges() {
        for b in 0..=u8::MAX {
            let expected = (0x20..=0x7E).contains(&b) && b != b',' && b != b'=';
            assert_eq!(is_chr(b), expected, "{b:#04x}");
            assert_eq!(is_nblk_chr(b), expected && b != b' ', "{b:#04x}");
        }
    }

    #[test]
    fn key_tail_characters_are_exactly_the_abnf_ones() {
        let allowed = b"abcdefghijklmnopqrstuvwxyz0123456789_-*/";
        for b in 0..=u8::MAX {
            assert_eq!(is_key_tail(b), allowed.contains(&b), "{b:#04x}");
        }
    }
}
