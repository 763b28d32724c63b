//! Exponential backoff with full jitter.

use std::time::Duration;

/// Exponential backoff with "full jitter" (AWS Architecture Blog, *Exponential Backoff And
/// Jitter*): before retry `n` (0-based) sleep a uniformly random time in
/// `[0, min(max, base * 2^n)]`.
///
/// Full jitter spreads the retries of many clients that failed together over the whole
/// window instead of letting them hit the dependency again in lockstep.
///
/// ```
/// use std::time::Duration;
/// use chassis::resilience::retry::Backoff;
///
/// let backoff = Backoff::new(Duration::from_millis(25), Duration::from_secs(1));
/// assert_eq!(backoff.ceiling(0), Duration::from_millis(25));
/// assert_eq!(backoff.ceiling(3), Duration::from_millis(200));
/// assert_eq!(backoff.ceiling(10), Duration::from_secs(1));
/// assert!(backoff.delay(2) <= Duration::from_millis(100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
}

impl Backoff {
    /// A backoff starting at `base`, doubling, never above `max`.
    pub const fn new(base: Duration, max: Duration) -> Self {
        Self { base, max }
    }

    /// The upper bound of the sleep before retry `retry` (0-based): `min(max, base * 2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// A random sleep before retry `retry`, using the thread-local generator.
    pub fn delay(&self, retry: u32) -> Duration {
        Self::pick(self.ceiling(retry), fastrand::u64(..))
    }

    /// The same, drawing from `rng` (for reproducible sequences).
    pub fn delay_with(&self, retry: u32, rng: &mut fastrand::Rng) -> Duration {
        Self::pick(self.ceiling(retry), rng.u64(..))
    }

    /// A uniform point in `[0, ceiling]` from a random `u64`.
    fn pick(ceiling: Duration, random: u64) -> Duration {
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        // Multiply-shift maps the random word uniformly onto [0, nanos].
        let scaled = (u128::from(random) * (u128::from(nanos) + 1)) >> 64;
        Duration::from_nanos(u64::try_from(scaled).unwrap_or(nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_covers_both_ends() {
        let ceiling = Duration::from_millis(100);
        assert_eq!(Backoff::pick(ceiling, 0), Duration::ZERO);
        assert_eq!(Backoff::pick(ceiling, u64::MAX), ceiling);
        assert_eq!(Backoff::pick(Duration::ZERO, u64::MAX), Duration::ZERO);
    }

    #[test]
    fn ceiling_saturates_for_huge_retry_counts() {
        let backoff = Backoff::new(Duration::from_millis(25), Duration::from_secs(1));
        assert_eq!(backoff.ceiling(31), Duration::from_secs(1));
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(1));
    }
}
