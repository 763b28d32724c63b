//! The W3C `traceparent` header: strict, allocation-free parsing and formatting.

use std::fmt;

use http::HeaderValue;

use super::ids::{SpanId, TraceFlags, TraceId, hex};

/// Length of a version `00` header: `vv-{32}-{16}-ff`.
const LEN: usize = 55;

/// A parsed `traceparent` header: who called us, in which trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace this request belongs to.
    pub trace_id: TraceId,
    /// The caller's span (the `parent-id` field).
    pub parent_id: SpanId,
    /// The caller's trace flags.
    pub flags: TraceFlags,
}

impl TraceParent {
    /// Parses a header value; `None` when it breaks any rule of the specification.
    pub fn parse(value: &HeaderValue) -> Option<Self> {
        Self::parse_bytes(value.as_bytes())
    }

    /// Parses the header text following W3C Trace Context (level 1 and 2):
    ///
    /// - version: two lowercase hex digits, `ff` invalid;
    /// - version `00`: exactly 55 characters;
    /// - a later version: at least 55 characters, and when longer the 56th is `-`
    ///   (the fields it adds are ignored);
    /// - trace id 32 and parent id 16 lowercase hex digits, neither all zero;
    /// - flags two lowercase hex digits (a later version keeps only the known flags).
    pub fn parse_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < LEN {
            return None;
        }
        let version = hex::decode_u64(&bytes[0..2])?;
        if version == 0xff {
            return None;
        }
        if version == 0 && bytes.len() != LEN {
            return None;
        }
        if bytes.len() > LEN && bytes[LEN] != b'-' {
            return None;
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let trace_id = TraceId::new(hex::decode_chunks::<4>(&bytes[3..35])?)?;
        let parent_id = SpanId::new(u64::try_from(hex::decode_chunks::<2>(&bytes[36..52])?).ok()?)?;
        let mut flags = u8::try_from(hex::decode_u64(&bytes[53..55])?).ok()?;
        if version != 0 {
            flags &= TraceFlags::SAMPLED.union(TraceFlags::RANDOM).bits();
        }
        Some(Self {
            trace_id,
            parent_id,
            flags: TraceFlags::new(flags),
        })
    }

    /// The version `00` wire form, without allocating.
    pub fn encode(&self) -> [u8; LEN] {
        let mut out = [b'-'; LEN];
        out[0] = b'0';
        out[1] = b'0';
        let mut trace = [0u8; 32];
        hex::encode_u128(self.trace_id.get(), &mut trace);
        out[3..35].copy_from_slice(&trace);
        let mut span = [0u8; 16];
        hex::encode_u64(self.parent_id.get(), &mut span);
        out[36..52].copy_from_slice(&span);
        hex::encode_u8(self.flags.bits(), &mut out[53..55]);
        out
    }

    /// The header value (version `00`).
    pub fn to_header_value(&self) -> HeaderValue {
        // Always valid: ASCII hex digits and dashes.
        HeaderValue::from_bytes(&self.encode()).unwrap_or(HeaderValue::from_static(""))
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(hex::as_str(&self.encode()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// (header, expected parse): `Some((trace, parent, flags))` or `None` for invalid.
    #[allow(clippy::type_complexity)]
    const TABLE: &[(&str, Option<(u128, u64, u8)>)] = &[
        // valid
        (
            VALID,
            Some((
                0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
                0x00f0_67aa_0ba9_02b7,
                1,
            )),
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            Some((
                0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
                0x00f0_67aa_0ba9_02b7,
                0,
            )),
        ),
        (
            "00-00000000000000000000000000000001-0000000000000001-01",
            Some((1, 1, 1)),
        ),
        (
            "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-03",
            Some((u128::MAX, u64::MAX, 3)),
        ),
        // version 00 keeps unknown flags as sent
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09",
            Some((
                0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
                0x00f0_67aa_0ba9_02b7,
                9,
            )),
        ),
        // a future version with extra fields: parsed, extras ignored, unknown flags dropped
        (
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-whatever",
            Some((
                0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
                0x00f0_67aa_0ba9_02b7,
                1,
            )),
        ),
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Some((
                0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
                0x00f0_67aa_0ba9_02b7,
                1,
            )),
        ),
        // invalid
        ("", None),
        (
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            None,
        ),
        (
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            None,
        ),
        (
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            None,
        ),
        (
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0G",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            None,
        ),
        // version 00 must be exactly 55 characters
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            None,
        ),
        // a future version: extra data must follow a dash
        (
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            None,
        ),
        (
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            None,
        ),
        (
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
            None,
        ),
        (
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736x00f067aa0ba902b7-01",
            None,
        ),
    ];

    #[test]
    fn traceparent_table() {
        let (mut valid, mut invalid) = (0, 0);
        for (header, expected) in TABLE {
            let got = TraceParent::parse_bytes(header.as_bytes())
                .map(|tp| (tp.trace_id.get(), tp.parent_id.get(), tp.flags.bits()));
            assert_eq!(got, *expected, "traceparent {header:?}");
            if expected.is_some() {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
        assert!(
            valid >= 7 && invalid >= 15,
            "{valid} valid, {invalid} invalid"
        );
    }

    #[test]
    fn header_value_form_round_trips() {
        let hv = HeaderValue::from_static(VALID);
        let tp = TraceParent::parse(&hv).expect("valid");
        assert_eq!(tp.to_header_value(), hv);
        assert_eq!(tp.to_string(), VALID);
    }

    #[test]
    fn future_version_is_written_as_00() {
        let tp = TraceParent::parse_bytes(
            b"42-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more",
        )
        .expect("valid");
        assert_eq!(tp.to_string(), VALID);
    }
}
