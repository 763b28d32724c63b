//! Trace and span identifiers and trace flags.

use std::fmt;
use std::num::{NonZeroU64, NonZeroU128};

/// A W3C trace id: 16 bytes, never all zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(NonZeroU128);

impl TraceId {
    /// A fresh random, non-zero id (thread-local `fastrand`, a few nanoseconds).
    pub fn random() -> Self {
        match NonZeroU128::new(random_u128()) {
            Some(value) => Self(value),
            None => Self(NonZeroU128::MIN),
        }
    }

    /// The id from its value, `None` for the invalid all-zero id.
    pub const fn new(value: u128) -> Option<Self> {
        match NonZeroU128::new(value) {
            Some(value) => Some(Self(value)),
            None => None,
        }
    }

    /// The id as a number (big-endian reading of the 16 bytes).
    pub const fn get(self) -> u128 {
        self.0.get()
    }

    /// The 16 bytes, big-endian (wire order).
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0.get().to_be_bytes()
    }
}

impl fmt::Display for TraceId {
    /// 32 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 32];
        hex::encode_u128(self.0.get(), &mut buf);
        f.write_str(hex::as_str(&buf))
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

/// A W3C span id (`parent-id` on the wire): 8 bytes, never all zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(NonZeroU64);

impl SpanId {
    /// A fresh random, non-zero id.
    pub fn random() -> Self {
        match NonZeroU64::new(fastrand::u64(..)) {
            Some(value) => Self(value),
            None => Self(NonZeroU64::MIN),
        }
    }

    /// The id from its value, `None` for the invalid all-zero id.
    pub const fn new(value: u64) -> Option<Self> {
        match NonZeroU64::new(value) {
            Some(value) => Some(Self(value)),
            None => None,
        }
    }

    /// The id as a number.
    pub const fn get(self) -> u64 {
        self.0.get()
    }

    /// The 8 bytes, big-endian (wire order).
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0.get().to_be_bytes()
    }
}

impl fmt::Display for SpanId {
    /// 16 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 16];
        hex::encode_u64(self.0.get(), &mut buf);
        f.write_str(hex::as_str(&buf))
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// The `trace-flags` byte of a `traceparent`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// The caller may have recorded this trace (`01`).
    pub const SAMPLED: Self = Self(0x01);
    /// The trace id's right-most 7 bytes are random (Trace Context level 2, `02`).
    pub const RANDOM: Self = Self(0x02);
    /// No flag set.
    pub const NONE: Self = Self(0);

    /// Flags from the raw byte.
    pub const fn new(bits: u8) -> Self {
        Self(bits)
    }

    /// The raw byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether the `sampled` flag is set.
    pub const fn is_sampled(self) -> bool {
        self.0 & 0x01 != 0
    }

    /// Both sets of flags.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// Allocation-free lowercase hex.
/// A random non-zero `u128`. Not `fastrand::u128(1..)`: its range reduction divides 128-bit
/// numbers (a slow library call); mapping the one zero in 2^128 to 1 changes nothing.
pub(crate) fn random_u128() -> u128 {
    fastrand::u128(..).max(1)
}

pub(crate) mod hex {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";

    pub(crate) fn encode_u128(value: u128, out: &mut [u8; 32]) {
        // Both halves are u64s; truncation is the point.
        #[allow(clippy::cast_possible_truncation)]
        let (high, low) = ((value >> 64) as u64, value as u64);
        out[..16].copy_from_slice(&digits_u64(high));
        out[16..].copy_from_slice(&digits_u64(low));
    }

    pub(crate) fn encode_u64(value: u64, out: &mut [u8; 16]) {
        *out = digits_u64(value);
    }

    /// The 16 digits of `value` without a loop (SWAR): each nibble is spread into its own
    /// byte, then all sixteen become ASCII at once.
    fn digits_u64(value: u64) -> [u8; 16] {
        const LOW_NIBBLES: u128 = 0x0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f;
        const ONES: u128 = 0x0101_0101_0101_0101_0101_0101_0101_0101;
        let mut x = u128::from(value);
        x = (x | (x << 32)) & 0x0000_0000_ffff_ffff_0000_0000_ffff_ffff;
        x = (x | (x << 16)) & 0x0000_ffff_0000_ffff_0000_ffff_0000_ffff;
        x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff_00ff_00ff_00ff_00ff;
        // Each byte of `value` now has a 16-bit lane: its high nibble goes to the lane's
        // high byte (written first), its low nibble to the low byte.
        x = (x | (x << 4)) & LOW_NIBBLES;
        // 0-9 -> '0'-'9'; 10-15 -> 'a'-'f' (one more step of 0x27 where the nibble is > 9).
        let letters = ((x + 6 * ONES) >> 4) & ONES;
        (x + u128::from(b'0') * ONES + letters * 0x27).to_be_bytes()
    }

    pub(crate) fn encode_u8(value: u8, out: &mut [u8]) {
        out[0] = DIGITS[usize::from(value >> 4)];
        out[1] = DIGITS[usize::from(value & 0x0f)];
    }

    /// Nibble values of lower-case hex digits; `0xff` for every other byte.
    const NIBBLES: [u8; 256] = {
        let mut table = [0xff_u8; 256];
        let mut i: u8 = 0;
        while i < 16 {
            table[DIGITS[i as usize] as usize] = i;
            i += 1;
        }
        table
    };

    /// Decodes up to 16 lower-case hex digits (W3C forbids upper case).
    pub(crate) fn decode_u64(digits: &[u8]) -> Option<u64> {
        let mut value: u64 = 0;
        let mut invalid = 0u8;
        for &d in digits {
            let nibble = NIBBLES[usize::from(d)];
            invalid |= nibble;
            value = (value << 4) | u64::from(nibble & 0x0f);
        }
        // Any invalid digit sets the high bits of `invalid`.
        (invalid & 0xf0 == 0).then_some(value)
    }

    /// Decodes 8 lower-case hex digits at once (SWAR: one `u64`, no per-digit branch).
    pub(crate) fn decode8(chunk: [u8; 8]) -> Option<u32> {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let x = u64::from_be_bytes(chunk);
        if x & HIGH != 0 {
            return None;
        }
        // For bytes below 0x80, `(b + (0x80 - c)) & 0x80` is set exactly when `b >= c`.
        let at_least = |c: u64| x.wrapping_add((0x80 - c) * ONES) & HIGH;
        let digit = at_least(0x30) & !at_least(0x3a);
        let alpha = at_least(0x61) & !at_least(0x67);
        if digit | alpha != HIGH {
            return None;
        }
        // Nibble per byte: low four bits, plus 9 for `a`..=`f`.
        let mut n = (x & (0x0f * ONES)) + (alpha >> 7) * 9;
        n = (n | (n >> 4)) & 0x00ff_00ff_00ff_00ff;
        n = (n | (n >> 8)) & 0x0000_ffff_0000_ffff;
        n = (n | (n >> 16)) & 0x0000_0000_ffff_ffff;
        u32::try_from(n).ok()
    }

    /// Decodes `N * 8` lower-case hex digits.
    pub(crate) fn decode_chunks<const N: usize>(digits: &[u8]) -> Option<u128> {
        let mut value: u128 = 0;
        for i in 0..N {
            let chunk: [u8; 8] = digits.get(i * 8..i * 8 + 8)?.try_into().ok()?;
            value = (value << 32) | u128::from(decode8(chunk)?);
        }
        Some(value)
    }

    /// Decodes up to 32 lower-case hex digits, one at a time.
    #[cfg(test)]
    pub(crate) fn decode(digits: &[u8]) -> Option<u128> {
        let split = digits.len().saturating_sub(16);
        let high = decode_u64(&digits[..split])?;
        let low = decode_u64(&digits[split..])?;
        Some((u128::from(high) << 64) | u128::from(low))
    }

    /// The buffer as text; it only ever holds ASCII hex digits.
    pub(crate) fn as_str(buf: &[u8]) -> &str {
        std::str::from_utf8(buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_match_the_formatter() {
        let mut values = vec![0, 1, u64::MAX, 0x0123_4567_89ab_cdef, 0xa0b0_c0d0_e0f0_0a0b];
        values.extend((0..1000).map(|_| fastrand::u64(..)));
        for value in values {
            let mut out = [0u8; 16];
            hex::encode_u64(value, &mut out);
            assert_eq!(hex::as_str(&out), format!("{value:016x}"));
            let wide = u128::from(value) << 64 | u128::from(value.rotate_left(17));
            let mut out = [0u8; 32];
            hex::encode_u128(wide, &mut out);
            assert_eq!(hex::as_str(&out), format!("{wide:032x}"));
        }
    }

    #[test]
    fn random_ids_are_non_zero_and_distinct() {
        let a = TraceId::random();
        let b = TraceId::random();
        assert_ne!(a.get(), 0);
        assert_ne!(a, b);
        assert_ne!(SpanId::random().get(), 0);
    }

    #[test]
    fn display_is_fixed_width_lower_hex() {
        let t = TraceId::new(0xab).expect("non-zero");
        assert_eq!(t.to_string(), format!("{:032x}", 0xab));
        let s = SpanId::new(0x00f0_67aa_0ba9_02b7).expect("non-zero");
        assert_eq!(s.to_string(), "00f067aa0ba902b7");
        assert!(TraceId::new(0).is_none());
        assert!(SpanId::new(0).is_none());
    }

    #[test]
    fn swar_decode_agrees_with_scalar_for_every_byte_in_every_position() {
        let base = *b"0123abcd";
        for pos in 0..8 {
            for b in 0..=255u8 {
                let mut chunk = base;
                chunk[pos] = b;
                let scalar = hex::decode_u64(&chunk).map(|v| u32::try_from(v).expect("8 digits"));
                assert_eq!(hex::decode8(chunk), scalar, "byte {b:#04x} at {pos}");
            }
        }
        assert_eq!(hex::decode8(*b"ffffffff"), Some(u32::MAX));
        assert_eq!(
            hex::decode_chunks::<4>(b"4bf92f3577b34da6a3ce929d0e0e4736"),
            Some(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736)
        );
    }

    #[test]
    fn hex_decode_rejects_upper_case() {
        assert_eq!(hex::decode(b"0a"), Some(10));
        assert_eq!(hex::decode(b"0A"), None);
        assert_eq!(hex::decode(b"g0"), None);
    }
}
