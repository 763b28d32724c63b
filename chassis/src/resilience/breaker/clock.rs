//! Time sources: a cheap monotonic clock by default, a manual one for tests.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A monotonic time source for the breaker: slow-call detection, time-based windows and the
/// wait in open read it.
///
/// The breaker reads the clock only when its configuration needs it: twice per call when
/// slow-call detection or a time-based window is on, otherwise only while open.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The time elapsed since an arbitrary fixed origin of this clock.
    fn now(&self) -> Duration;
}

/// The default clock: a coarse monotonic time that a background thread refreshes every
/// millisecond, so reading it is one atomic load (~1 ns) instead of a clock read (~20 ns for
/// `Instant::now` on bare metal, far more on some VMs).
///
/// A millisecond is plenty for what the breaker times: slow calls (thresholds of tens of
/// milliseconds and up), one-second window buckets and the wait in open. If the refresh thread
/// cannot be started, every read falls back to `Instant::now`. The thread ends when the last
/// clone of its clock is dropped; [`CoarseClock::shared`] is one per process that lives
/// forever.
#[derive(Clone)]
pub struct CoarseClock {
    ticker: Arc<Ticker>,
}

#[repr(align(128))]
struct Ticker {
    nanos: AtomicU64,
    origin: Instant,
    /// False when the refresh thread could not be started.
    ticking: AtomicBool,
}

impl Ticker {
    fn elapsed(&self) -> u64 {
        saturating_nanos(self.origin.elapsed())
    }
}

impl CoarseClock {
    /// A clock refreshed every `resolution` by a new thread named `chassis-clock`.
    pub fn new(resolution: Duration) -> Self {
        let ticker = Arc::new(Ticker {
            nanos: AtomicU64::new(0),
            origin: Instant::now(),
            ticking: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&ticker);
        let resolution = resolution.max(Duration::from_micros(100));
        let spawned = std::thread::Builder::new()
            .name("chassis-clock".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(resolution);
                    let Some(ticker) = weak.upgrade() else { break };
                    ticker.nanos.fetch_max(ticker.elapsed(), Ordering::Relaxed);
                }
            });
        if spawned.is_ok() {
            ticker.nanos.store(ticker.elapsed(), Ordering::Relaxed);
            ticker.ticking.store(true, Ordering::Release);
        }
        Self { ticker }
    }

    /// The process-wide clock at a 1 ms resolution (one thread, started on first use). The
    /// default for breakers.
    pub fn shared() -> Self {
        static SHARED: OnceLock<CoarseClock> = OnceLock::new();
        SHARED
            .get_or_init(|| CoarseClock::new(Duration::from_millis(1)))
            .clone()
    }
}

impl fmt::Debug for CoarseClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoarseClock")
            .field("ticking", &self.ticker.ticking.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Clock for CoarseClock {
    #[inline]
    fn now(&self) -> Duration {
        if self.ticker.ticking.load(Ordering::Relaxed) {
            Duration::from_nanos(self.ticker.nanos.load(Ordering::Relaxed))
        } else {
            Duration::from_nanos(self.ticker.elapsed())
        }
    }
}

/// A precise clock: the CPU's invariant time-stamp counter through `quanta` (a few
/// nanoseconds per read on bare metal, against ~20 ns for `std::time::Instant::now`; both cost
/// more on some VMs), falling back to the OS monotonic clock where the counter is not reliable.
#[derive(Clone)]
pub struct MonotonicClock {
    clock: quanta::Clock,
    origin: quanta::Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now. The first one in a process calibrates the counter (a few
    /// milliseconds).
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let origin = clock.now();
        Self { clock, origin }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MonotonicClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonotonicClock").finish_non_exhaustive()
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn now(&self) -> Duration {
        self.clock.now().saturating_duration_since(self.origin)
    }
}

/// A clock that moves only when told to: for tests and simulations. Clones share the time.
///
/// ```
/// use std::time::Duration;
/// use chassis::resilience::breaker::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(clock.now(), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.nanos.fetch_add(saturating_nanos(by), Ordering::SeqCst);
    }

    /// Sets the clock to `at` (which may move it backwards; the breaker tolerates that).
    pub fn set(&self, at: Duration) {
        self.nanos.store(saturating_nanos(at), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// Whole nanoseconds of a duration, saturating at `u64::MAX` (584 years).
pub(crate) fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_clones_share_time() {
        let a = ManualClock::new();
        let b = a.clone();
        a.advance(Duration::from_millis(1500));
        assert_eq!(b.now(), Duration::from_millis(1500));
        b.set(Duration::from_secs(1));
        assert_eq!(a.now(), Duration::from_secs(1));
    }

    #[test]
    fn coarse_clock_advances_and_its_thread_ends_with_it() {
        let c = CoarseClock::new(Duration::from_millis(1));
        let weak = Arc::downgrade(&c.ticker);
        let t1 = c.now();
        // Waits for the refresh thread (real time is the thing under test here).
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.now() == t1 && Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(c.now() > t1, "the refresh thread moves the clock");
        drop(c);
        assert!(weak.upgrade().is_none());
    }

    #[test]
    fn shared_coarse_clock_is_one_clock() {
        assert!(Arc::ptr_eq(
            &CoarseClock::shared().ticker,
            &CoarseClock::shared().ticker
        ));
    }

    #[test]
    fn monotonic_clock_does_not_go_backwards() {
        let c = MonotonicClock::new();
        let t1 = c.now();
        let t2 = c.now();
        assert!(t2 >= t1);
    }
}
