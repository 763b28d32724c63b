//! Lock-free sliding windows of call outcomes: count-based (the last N calls) and time-based
//! (the calls of the last N seconds).
//!
//! Each window keeps its aggregate in atomics updated with single read-modify-write operations,
//! so recording needs no lock; an update returns the new aggregate, so judging the thresholds
//! needs no extra read. The counters of failures and slow calls share one word (32 bits each,
//! read as signed so that a momentary negative value from two racing updates cannot borrow
//! into the other field).

use std::ops::Deref;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};

/// An outcome as stored in a slot: `EMPTY` or one of the four kinds below.
pub(crate) type Kind = u8;
const EMPTY: Kind = 0;
/// A fast success.
pub(crate) const OK: Kind = 1;
const FAIL: Kind = 2;
const SLOW_OK: Kind = 3;
const SLOW_FAIL: Kind = 4;

/// The stored kind of a call.
pub(crate) const fn kind(failed: bool, slow: bool) -> Kind {
    match (failed, slow) {
        (false, false) => OK,
        (true, false) => FAIL,
        (false, true) => SLOW_OK,
        (true, true) => SLOW_FAIL,
    }
}

/// The contribution of a kind to the packed (failures, slow) word.
const fn bad(kind: Kind) -> u64 {
    const F: u64 = 1;
    const S: u64 = 1 << 32;
    match kind {
        FAIL => F,
        SLOW_OK => S,
        SLOW_FAIL => F + S,
        _ => 0,
    }
}

/// Unpacks (failures, slow), clamping a transiently negative field to zero.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]
fn unpack_bad(word: u64) -> (u64, u64) {
    let failures = i64::from(word as u32 as i32);
    let slow = i64::from((word.wrapping_sub(failures as u64) >> 32) as u32 as i32);
    (failures.max(0) as u64, slow.max(0) as u64)
}

/// A wrapping counter read as signed and clamped at zero.
#[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
fn clamp(word: u64) -> u64 {
    (word as i64).max(0) as u64
}

/// Aggregated outcomes of a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

impl Counts {
    fn new(calls: u64, bad_word: u64) -> Counts {
        let (failures, slow) = unpack_bad(bad_word);
        Counts {
            calls,
            failures: failures.min(calls),
            slow: slow.min(calls),
        }
    }
}

/// Keeps hot atomics on their own cache lines.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The outcomes of the last `size` calls, in a ring of one byte per call.
#[derive(Debug)]
pub(crate) struct CountWindow {
    head: Padded<AtomicU64>,
    bad: Padded<AtomicU64>,
    slots: Box<[AtomicU8]>,
    size: u64,
}

impl CountWindow {
    pub(crate) fn new(size: u32) -> Self {
        Self {
            head: Padded::default(),
            bad: Padded::default(),
            slots: (0..size.max(1)).map(|_| AtomicU8::new(EMPTY)).collect(),
            size: u64::from(size.max(1)),
        }
    }

    /// Records one call; returns the new aggregate, or `None` when nothing changed that could
    /// open the breaker (a fast success replacing a fast success in a full window).
    ///
    /// A fast success in a full window without a failure or slow call writes nothing: every
    /// slot holds a fast success, so whichever one it would replace, the window stays the
    /// same. That keeps the healthy closed path free of shared writes, so threads calling
    /// through one breaker do not bounce the head between their cores.
    #[inline]
    #[allow(clippy::cast_possible_truncation)]
    pub(crate) fn record(&self, kind: Kind) -> Option<Counts> {
        if kind == OK && self.full_and_clean() {
            return None;
        }
        let idx = self.head.fetch_add(1, Relaxed);
        let calls = idx.saturating_add(1).min(self.size);
        let slot = &self.slots[(idx % self.size) as usize];
        let bad_word = if slot.load(Relaxed) == kind {
            if kind == OK && calls == self.size {
                return None;
            }
            self.bad.load(Relaxed)
        } else {
            let old = slot.swap(kind, Relaxed);
            let delta = bad(kind).wrapping_sub(bad(old));
            if delta == 0 {
                self.bad.load(Relaxed)
            } else {
                self.bad.fetch_add(delta, Relaxed).wrapping_add(delta)
            }
        };
        Some(Counts::new(calls, bad_word))
    }

    /// Whether the window is full of fast successes (so one more changes nothing).
    #[inline]
    pub(crate) fn full_and_clean(&self) -> bool {
        self.head.load(Relaxed) >= self.size && self.bad.load(Relaxed) == 0
    }

    pub(crate) fn snapshot(&self) -> Counts {
        Counts::new(
            self.head.load(Relaxed).min(self.size),
            self.bad.load(Relaxed),
        )
    }

    pub(crate) fn reset(&self) {
        for slot in &self.slots {
            slot.store(EMPTY, Relaxed);
        }
        self.bad.store(0, Relaxed);
        self.head.store(0, Relaxed);
    }
}

#[derive(Debug, Default)]
struct Bucket {
    calls: AtomicU64,
    bad: AtomicU64,
}

/// The outcomes of the last `size` seconds, in one bucket per second.
///
/// The first call of a new second moves the head (a compare-and-swap decides which thread) and
/// evicts the expired buckets from the aggregate. A call racing with that eviction may be
/// dropped from the window; a breaker can live with that.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    head: Padded<AtomicU64>,
    calls: Padded<AtomicU64>,
    bad: Padded<AtomicU64>,
    buckets: Box<[Bucket]>,
    size: u64,
}

impl TimeWindow {
    pub(crate) fn new(seconds: u32, now_sec: u64) -> Self {
        let w = Self {
            head: Padded::default(),
            calls: Padded::default(),
            bad: Padded::default(),
            buckets: (0..seconds.max(1)).map(|_| Bucket::default()).collect(),
            size: u64::from(seconds.max(1)),
        };
        w.head.store(now_sec, Relaxed);
        w
    }

    #[allow(clippy::cast_possible_truncation)]
    fn bucket(&self, sec: u64) -> &Bucket {
        &self.buckets[(sec % self.size) as usize]
    }

    /// Records one call made at second `now_sec`; returns the new aggregate.
    #[inline]
    pub(crate) fn record(&self, kind: Kind, now_sec: u64) -> Option<Counts> {
        let head = self.roll(now_sec);
        if head.saturating_sub(now_sec) >= self.size {
            return None; // from a thread that stalled for longer than the window
        }
        let bucket = self.bucket(now_sec);
        bucket.calls.fetch_add(1, Relaxed);
        let calls = clamp(self.calls.fetch_add(1, Relaxed).wrapping_add(1));
        let delta = bad(kind);
        let bad_word = if delta == 0 {
            self.bad.load(Relaxed)
        } else {
            bucket.bad.fetch_add(delta, Relaxed);
            self.bad.fetch_add(delta, Relaxed).wrapping_add(delta)
        };
        Some(Counts::new(calls, bad_word))
    }

    /// Moves the head to `now_sec` if it is behind, evicting expired buckets; returns the head.
    fn roll(&self, now_sec: u64) -> u64 {
        let mut head = self.head.load(Relaxed);
        while now_sec > head {
            match self
                .head
                .compare_exchange_weak(head, now_sec, Relaxed, Relaxed)
            {
                Ok(_) => {
                    let steps = (now_sec - head).min(self.size);
                    for sec in (now_sec + 1 - steps)..=now_sec {
                        let b = self.bucket(sec);
                        let calls = b.calls.swap(0, Relaxed);
                        let bad = b.bad.swap(0, Relaxed);
                        self.calls.fetch_sub(calls, Relaxed);
                        self.bad.fetch_sub(bad, Relaxed);
                    }
                    return now_sec;
                }
                Err(actual) => head = actual,
            }
        }
        head
    }

    pub(crate) fn snapshot(&self, now_sec: u64) -> Counts {
        self.roll(now_sec);
        Counts::new(clamp(self.calls.load(Relaxed)), self.bad.load(Relaxed))
    }

    pub(crate) fn reset(&self, now_sec: u64) {
        for b in &self.buckets {
            b.calls.store(0, Relaxed);
            b.bad.store(0, Relaxed);
        }
        self.calls.store(0, Relaxed);
        self.bad.store(0, Relaxed);
        self.head.store(now_sec, Relaxed);
    }
}

/// The outcomes of the trial calls in half-open: calls, failures and slow calls packed in
/// 21-bit fields of one word (the number of trial calls is validated to fit).
#[derive(Debug, Default)]
pub(crate) struct TrialCounts(AtomicU64);

impl TrialCounts {
    const BITS: u32 = 21;
    const MASK: u64 = (1 << Self::BITS) - 1;

    pub(crate) fn record(&self, kind: Kind) -> Counts {
        let (f, s) = unpack_bad(bad(kind));
        let delta = 1 | (f << Self::BITS) | (s << (2 * Self::BITS));
        Self::unpack(self.0.fetch_add(delta, Relaxed).wrapping_add(delta))
    }

    pub(crate) fn snapshot(&self) -> Counts {
        Self::unpack(self.0.load(Relaxed))
    }

    pub(crate) fn reset(&self) {
        self.0.store(0, Relaxed);
    }

    fn unpack(word: u64) -> Counts {
        Counts {
            calls: word & Self::MASK,
            failures: (word >> Self::BITS) & Self::MASK,
            slow: (word >> (2 * Self::BITS)) & Self::MASK,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(calls: u64, failures: u64, slow: u64) -> Counts {
        Counts {
            calls,
            failures,
            slow,
        }
    }

    #[test]
    fn count_window_slides_over_the_last_n_calls() {
        let w = CountWindow::new(3);
        assert_eq!(w.record(FAIL), Some(counts(1, 1, 0)));
        assert_eq!(w.record(SLOW_OK), Some(counts(2, 1, 1)));
        assert_eq!(w.record(OK), Some(counts(3, 1, 1)));
        // the failure slides out
        assert_eq!(w.record(OK), Some(counts(3, 0, 1)));
        // the slow call slides out
        assert_eq!(w.record(OK), Some(counts(3, 0, 0)));
        // nothing changes: no judgement needed
        assert_eq!(w.record(OK), None);
        assert_eq!(w.record(SLOW_FAIL), Some(counts(3, 1, 1)));
        assert_eq!(w.snapshot(), counts(3, 1, 1));
        w.reset();
        assert_eq!(w.snapshot(), counts(0, 0, 0));
    }

    #[test]
    fn healthy_successes_write_nothing_yet_a_failure_slides_out_on_time() {
        let w = CountWindow::new(3);
        for _ in 0..3 {
            assert!(w.record(OK).is_some());
        }
        let head = w.head.load(Relaxed);
        for _ in 0..10 {
            assert_eq!(w.record(OK), None);
        }
        assert_eq!(
            w.head.load(Relaxed),
            head,
            "a healthy success writes nothing"
        );
        assert_eq!(w.record(FAIL), Some(counts(3, 1, 0)));
        for _ in 0..2 {
            w.record(OK);
            assert_eq!(w.snapshot(), counts(3, 1, 0));
        }
        // the third call after the failure replaces it
        assert_eq!(w.record(OK), Some(counts(3, 0, 0)));
        assert_eq!(w.record(OK), None);
    }

    /// Many threads record random kinds into small windows, wrapping them thousands of
    /// times; once they are done, the aggregate must be exactly what the slots hold (each slot
    /// replaced atomically, and its old kind subtracted exactly once), and a sequential replay
    /// must read exactly.
    #[test]
    fn racing_records_keep_the_aggregate_equal_to_the_slots() {
        const KINDS: [Kind; 6] = [OK, OK, FAIL, SLOW_OK, SLOW_FAIL, FAIL];
        for size in [4u32, 5, 8] {
            let w = CountWindow::new(size);
            let n = u64::from(size);
            std::thread::scope(|s| {
                for t in 0..8u64 {
                    let w = &w;
                    s.spawn(move || {
                        let mut x = 0x9E37_79B9_7F4A_7C15_u64 ^ (t + 1);
                        for _ in 0..200_000 {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            #[allow(clippy::cast_possible_truncation)]
                            let kind = KINDS[(x % 6) as usize];
                            if let Some(c) = w.record(kind) {
                                assert!(c.calls <= n && c.failures <= c.calls && c.slow <= c.calls);
                            }
                        }
                    });
                }
            });
            let held = w
                .slots
                .iter()
                .fold(0u64, |sum, slot| sum.wrapping_add(bad(slot.load(Relaxed))));
            assert_eq!(
                unpack_bad(w.bad.load(Relaxed)),
                unpack_bad(held),
                "size {size}: the aggregate (failures, slow) is what the slots hold"
            );
            assert_eq!(w.bad.load(Relaxed), held, "size {size}: to the bit");
            assert_eq!(w.snapshot().calls, n);
            for _ in 0..size {
                w.record(OK);
            }
            assert_eq!(w.snapshot(), counts(n, 0, 0), "size {size}");
            for _ in 0..size {
                w.record(SLOW_FAIL);
            }
            assert_eq!(w.snapshot(), counts(n, n, n), "size {size}");
        }
    }

    #[test]
    fn time_window_evicts_expired_seconds() {
        let w = TimeWindow::new(2, 100);
        assert_eq!(w.record(FAIL, 100), Some(counts(1, 1, 0)));
        assert_eq!(w.record(OK, 101), Some(counts(2, 1, 0)));
        // second 100 expires
        assert_eq!(w.record(OK, 102), Some(counts(2, 0, 0)));
        // a jump longer than the window clears everything
        assert_eq!(w.snapshot(200), counts(0, 0, 0));
        // a record from long ago is dropped
        assert_eq!(w.record(FAIL, 150), None);
    }

    #[test]
    fn unpack_tolerates_transient_negatives() {
        let minus_one_failure = 0u64.wrapping_sub(1);
        assert_eq!(unpack_bad(minus_one_failure), (0, 0));
        let slow_one_failures_minus_one = (1u64 << 32).wrapping_sub(1);
        assert_eq!(unpack_bad(slow_one_failures_minus_one), (0, 1));
    }

    #[test]
    fn trial_counts_pack_three_fields() {
        let t = TrialCounts::default();
        t.record(FAIL);
        t.record(SLOW_OK);
        assert_eq!(t.record(SLOW_FAIL), counts(3, 2, 2));
        t.reset();
        assert_eq!(t.snapshot(), counts(0, 0, 0));
    }
}
