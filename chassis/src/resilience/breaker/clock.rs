//! Time sources: a cheap monotonic clock by default, a manual one for tests.

use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::{JoinHandle, Thread};
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
/// millisecond while the clock is in use, so reading it is two atomic loads (~1 ns) instead of
/// a clock read (~20 ns for `Instant::now` on bare metal, far more on some VMs).
///
/// A millisecond is plenty for what the breaker times: slow calls (thresholds of tens of
/// milliseconds and up), one-second window buckets and the wait in open.
///
/// **Idle means idle.** When nobody has read the clock for 100 ms (at most 200 ms), the
/// thread parks and costs no CPU at all; the next read finds it
/// parked, reads the time itself (one `Instant::now`), and wakes the thread (one `unpark`),
/// once. A service whose clients make no calls therefore wakes no more often than one without
/// clients. Readers never lock, and a reader in steady use writes nothing but one flag per
/// idle period.
///
/// If the refresh thread cannot be started, every read falls back to `Instant::now`. The
/// thread ends when the last clone of its clock is dropped (parked or not);
/// [`CoarseClock::shared`] is one per process that lives forever.
#[derive(Clone)]
pub struct CoarseClock {
    ticker: Arc<Ticker>,
}

/// How long a [`CoarseClock`] must go unread before its thread parks (at least; at most twice
/// as long).
pub(crate) const IDLE_AFTER: Duration = Duration::from_millis(100);

/// The refresh thread runs and someone read the clock since its last idle check.
const RUNNING: u8 = 0;
/// The refresh thread runs and nobody has read the clock since its last idle check.
const UNSEEN: u8 = 1;
/// The refresh thread is parked; the next reader wakes it.
const PARKED: u8 = 2;
/// There is no refresh thread: every read is a clock read.
const NO_THREAD: u8 = 3;

#[repr(align(128))]
struct Ticker {
    nanos: AtomicU64,
    /// `RUNNING`, `UNSEEN`, `PARKED` or `NO_THREAD`; on the cache line of `nanos`.
    mode: AtomicU8,
    origin: Instant,
    /// The refresh thread, to wake it.
    thread: OnceLock<Thread>,
    /// Refreshes so far (the refresh thread's wake-ups).
    ticks: AtomicU64,
}

impl Ticker {
    fn elapsed(&self) -> u64 {
        saturating_nanos(self.origin.elapsed())
    }

    fn refresh(&self) {
        self.nanos.fetch_max(self.elapsed(), Ordering::Relaxed);
        self.ticks.fetch_add(1, Ordering::Relaxed);
    }

    /// A read that found the thread not known to be running.
    #[cold]
    fn read_slow(&self) -> u64 {
        loop {
            match self.mode.load(Ordering::Acquire) {
                RUNNING => return self.nanos.load(Ordering::Relaxed),
                UNSEEN => {
                    // Still running: say someone looked, and read its time (unless it parked
                    // meanwhile: then wake it).
                    let marked = self.mode.compare_exchange(
                        UNSEEN,
                        RUNNING,
                        Ordering::Relaxed,
                        Ordering::Acquire,
                    );
                    if marked != Err(PARKED) {
                        return self.nanos.load(Ordering::Relaxed);
                    }
                }
                PARKED => {
                    let now = self.elapsed();
                    self.nanos.fetch_max(now, Ordering::Relaxed);
                    let woke = self
                        .mode
                        .compare_exchange(PARKED, RUNNING, Ordering::Release, Ordering::Relaxed)
                        .is_ok();
                    if woke && let Some(thread) = self.thread.get() {
                        thread.unpark();
                    }
                    return now;
                }
                _ => return self.elapsed(),
            }
        }
    }

    /// The refresh thread's idle check, every `idle_ticks` refreshes: whether to park (nobody
    /// read the clock since the previous check). Marks the clock unseen otherwise.
    fn idle_check(&self) -> bool {
        let unseen =
            self.mode
                .compare_exchange(RUNNING, UNSEEN, Ordering::Relaxed, Ordering::Relaxed);
        unseen == Err(UNSEEN)
            && self
                .mode
                .compare_exchange(UNSEEN, PARKED, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        // A parked refresh thread wakes to find its clock gone, and ends.
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }
}

/// The refresh thread: refreshes every `resolution`, checks for idleness every `idle_ticks`
/// refreshes, parks when idle, ends with its clock.
fn run(weak: &Weak<Ticker>, resolution: Duration, idle_ticks: u64) {
    let mut since_check = 0;
    loop {
        std::thread::sleep(resolution);
        let Some(ticker) = weak.upgrade() else { return };
        ticker.refresh();
        since_check += 1;
        if since_check < idle_ticks {
            continue;
        }
        since_check = 0;
        if !ticker.idle_check() {
            continue;
        }
        // Parked: hold no reference, so the clock can still be dropped.
        drop(ticker);
        loop {
            std::thread::park();
            let Some(ticker) = weak.upgrade() else { return };
            if ticker.mode.load(Ordering::Acquire) != PARKED {
                ticker.refresh();
                break;
            }
        }
    }
}

impl CoarseClock {
    /// A clock refreshed every `resolution` (at least 100 µs) by a new thread named
    /// `chassis-clock`, parked after 100 ms unread (or `resolution`, if longer).
    pub fn new(resolution: Duration) -> Self {
        Self::start(resolution, IDLE_AFTER).0
    }

    /// The clock and its refresh thread's handle (`None` when it could not be started).
    fn start(resolution: Duration, idle_after: Duration) -> (Self, Option<JoinHandle<()>>) {
        let ticker = Arc::new(Ticker {
            nanos: AtomicU64::new(0),
            mode: AtomicU8::new(NO_THREAD),
            origin: Instant::now(),
            thread: OnceLock::new(),
            ticks: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&ticker);
        let resolution = resolution.max(Duration::from_micros(100));
        let idle_ticks = u64::try_from(idle_after.as_nanos() / resolution.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        let spawned = std::thread::Builder::new()
            .name("chassis-clock".into())
            .spawn(move || run(&weak, resolution, idle_ticks));
        let handle = spawned.ok().inspect(|handle| {
            let _ = ticker.thread.set(handle.thread().clone());
            ticker.nanos.fetch_max(ticker.elapsed(), Ordering::Relaxed);
            ticker.mode.store(RUNNING, Ordering::Release);
        });
        (Self { ticker }, handle)
    }

    /// The process-wide clock at a 1 ms resolution (one thread, started on first use, parked
    /// while unused). The default for breakers.
    pub fn shared() -> Self {
        static SHARED: OnceLock<CoarseClock> = OnceLock::new();
        SHARED
            .get_or_init(|| CoarseClock::new(Duration::from_millis(1)))
            .clone()
    }
}

impl fmt::Debug for CoarseClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.ticker.mode.load(Ordering::Relaxed) {
            RUNNING | UNSEEN => "ticking",
            PARKED => "parked",
            _ => "no thread",
        };
        f.debug_struct("CoarseClock")
            .field("mode", &mode)
            .finish_non_exhaustive()
    }
}

impl CoarseClock {
    /// [`Clock::now`] in whole nanoseconds.
    #[inline]
    fn now_nanos(&self) -> u64 {
        let ticker = &*self.ticker;
        if ticker.mode.load(Ordering::Acquire) == RUNNING {
            ticker.nanos.load(Ordering::Relaxed)
        } else {
            ticker.read_slow()
        }
    }
}

impl Clock for CoarseClock {
    #[inline]
    fn now(&self) -> Duration {
        Duration::from_nanos(self.now_nanos())
    }
}

/// The breaker's clock: the default one read without a virtual call (inlined into the closed
/// path: two loads), any other through the trait.
#[derive(Debug)]
pub(crate) enum TimeSource {
    Coarse(CoarseClock),
    Custom(Arc<dyn Clock>),
}

impl TimeSource {
    /// The time source of a breaker built without a clock: [`CoarseClock::shared`], or a
    /// [`TokioClock`] inside a deterministic simulation, whose time is the simulator's.
    pub(crate) fn default_for_breakers() -> Self {
        #[cfg(feature = "simulation")]
        if turmoil::in_simulation() {
            return TimeSource::Custom(Arc::new(TokioClock::new()));
        }
        TimeSource::Coarse(CoarseClock::shared())
    }

    /// `clock`, as a [`TimeSource::Coarse`] when it is a [`CoarseClock`].
    pub(crate) fn new<C: Clock>(clock: C) -> Self {
        let any: &dyn std::any::Any = &clock;
        match any.downcast_ref::<CoarseClock>() {
            Some(coarse) => TimeSource::Coarse(coarse.clone()),
            None => TimeSource::Custom(Arc::new(clock)),
        }
    }

    /// The time since the clock's origin, in whole nanoseconds (saturating).
    #[inline]
    pub(crate) fn now_nanos(&self) -> u64 {
        match self {
            TimeSource::Coarse(clock) => clock.now_nanos(),
            TimeSource::Custom(clock) => saturating_nanos(clock.now()),
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

/// Tokio's clock: real time in an ordinary runtime, the runtime's own time when it is paused
/// (`tokio::time::pause`, `#[tokio::test(start_paused = true)]`) or simulated
/// (`chassis::testing::Simulation`, where breakers use it by default). Read from inside the
/// runtime whose time it should follow.
///
/// ```
/// use std::time::Duration;
/// use chassis::resilience::breaker::{Clock, TokioClock};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let clock = TokioClock::new();
/// tokio::time::sleep(Duration::from_secs(30)).await; // paused: no real wait
/// assert!(clock.now() >= Duration::from_secs(30));
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.origin)
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

    /// Waits (real time is the thing under test here) until `done`, for at most 10 s.
    fn wait_until(mut done: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    fn mode(c: &CoarseClock) -> u8 {
        c.ticker.mode.load(Ordering::SeqCst)
    }

    fn ticks(c: &CoarseClock) -> u64 {
        c.ticker.ticks.load(Ordering::SeqCst)
    }

    #[test]
    fn coarse_clock_advances_and_its_thread_ends_with_it() {
        let (c, handle) = CoarseClock::start(Duration::from_millis(1), IDLE_AFTER);
        let handle = handle.expect("the refresh thread starts");
        let weak = Arc::downgrade(&c.ticker);
        let t1 = c.now();
        assert!(
            wait_until(|| c.now() > t1),
            "the refresh thread moves the clock"
        );
        drop(c);
        assert!(weak.upgrade().is_none());
        assert!(wait_until(|| handle.is_finished()), "the thread ends");
    }

    /// The refresh thread, for real: unread, it parks and stops waking up; a read wakes it
    /// with the current time; dropped while parked, it ends.
    #[test]
    fn an_unread_coarse_clock_stops_ticking_until_read_again() {
        let (c, handle) = CoarseClock::start(Duration::from_millis(1), Duration::from_millis(5));
        let handle = handle.expect("the refresh thread starts");
        let _ = c.now();
        assert!(
            wait_until(|| mode(&c) == PARKED),
            "an unread clock parks its thread"
        );
        let parked_at = ticks(&c);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(ticks(&c), parked_at, "a parked clock does not tick");

        let before = c.ticker.elapsed();
        let woken = c.now();
        assert!(
            woken >= Duration::from_nanos(before),
            "the read that wakes the clock has the current time"
        );
        assert!(
            wait_until(|| ticks(&c) > parked_at),
            "the thread ticks again"
        );
        assert!(c.now() >= woken, "and the time never goes back");

        assert!(wait_until(|| mode(&c) == PARKED), "and parks again");
        drop(c);
        assert!(
            wait_until(|| handle.is_finished()),
            "dropping a parked clock ends its thread"
        );
    }

    /// The park decision, driven by hand: the thread parks only after a whole idle period
    /// without a read, and any read (a hot one, or the one that finds it parked) counts.
    #[test]
    fn the_clock_parks_only_after_an_idle_period_without_reads() {
        let c = CoarseClock {
            ticker: Arc::new(Ticker {
                nanos: AtomicU64::new(0),
                mode: AtomicU8::new(RUNNING),
                origin: Instant::now(),
                thread: OnceLock::new(),
                ticks: AtomicU64::new(0),
            }),
        };
        let t = &c.ticker;
        assert!(!t.idle_check(), "read since the start");
        assert_eq!(mode(&c), UNSEEN);
        let _ = c.now();
        assert_eq!(mode(&c), RUNNING, "a read marks the clock seen");
        assert!(!t.idle_check());
        assert!(t.idle_check(), "a whole period unread: park");
        assert_eq!(mode(&c), PARKED);
        std::thread::sleep(Duration::from_millis(2));
        let woken = c.now();
        assert!(
            woken >= Duration::from_millis(2),
            "a parked clock reads the time"
        );
        assert_eq!(mode(&c), RUNNING, "and wakes");
        assert!(c.now() >= woken);
        assert!(!t.idle_check());
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
