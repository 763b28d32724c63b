//! The slow-client guard (`server.header_read_timeout`), kept beside hyper instead of in it.
//!
//! hyper's own header-read timeout arms a timer for every request head and takes one more
//! turn of its read loop per request to do so: about 1,250 instructions per request, a fifth
//! of all the chassis adds (`benches/instructions.sh`). The watchdog instead counts, per
//! connection, the requests handed to the service and those whose response, body included,
//! is done, and looks at the counts [`LOOKS`] times per timeout.
//!
//! A connection that has had no new request and none in flight for a whole timeout is asked
//! to close gracefully (an idle HTTP/1 connection closes at once, HTTP/2 gets `GOAWAY`) and
//! is cut at the next look if it is still open and quiet. So a client that trickles its
//! request head, or sits idle on keep-alive, is gone between one and one and a half timeouts
//! after its last request ended; slow handlers, long polls and long responses (SSE) are never cut.

mod service;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

pub(super) use service::Watched;

/// Looks at a connection's counts per timeout.
const LOOKS: u32 = 4;
/// The shortest time between two looks (configuration refuses a zero timeout).
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// What a connection's requests have done so far.
#[derive(Debug, Default)]
pub(super) struct Activity {
    /// Requests handed to the service.
    started: AtomicU64,
    /// Requests whose response was sent in full, or dropped.
    finished: AtomicU64,
}

impl Activity {
    /// Counts a request in; it counts out when the returned guard drops.
    fn start(self: &Arc<Self>) -> InFlight {
        self.started.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    /// The counts now.
    fn counts(&self) -> Counts {
        // `finished` first: read the other way round, a request that starts and finishes in
        // between would make more requests finished than started.
        let finished = self.finished.load(Ordering::Relaxed);
        let started = self.started.load(Ordering::Relaxed);
        Counts { started, finished }
    }
}

/// Requests started and finished on a connection, at one look.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    started: u64,
    finished: u64,
}

impl Counts {
    fn in_flight(self) -> u64 {
        self.started.saturating_sub(self.finished)
    }
}

/// One request in flight: counted out on drop, whether it was answered or abandoned.
#[derive(Debug)]
pub(super) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::Relaxed);
    }
}

/// Watches one connection's [`Activity`].
#[derive(Debug)]
pub(super) struct Watchdog {
    activity: Arc<Activity>,
    period: Duration,
    sleep: Pin<Box<Sleep>>,
    /// The waker `sleep` holds, from its last poll.
    waker: Option<Waker>,
    last: Counts,
    quiet_looks: u32,
}

impl Watchdog {
    /// A watchdog for a connection that may stay quiet for `timeout`.
    pub(super) fn new(activity: Arc<Activity>, timeout: Duration) -> Self {
        let period = (timeout / LOOKS).max(MIN_PERIOD);
        Self {
            activity,
            period,
            sleep: Box::pin(tokio::time::sleep(period)),
            waker: None,
            last: Counts::default(),
            quiet_looks: 0,
        }
    }

    /// Resolves when the connection has been quiet for the whole timeout, and again at each
    /// later look that still finds it quiet.
    pub(super) fn quiet(&mut self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| self.poll_quiet(cx))
    }

    fn poll_quiet(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // The connection's task wakes several times per request and polls this each time.
        // A pending sleep keeps the waker it was polled with until it fires, so polling it
        // again with the same waker would only register that waker again.
        let holds_ours = self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
        if holds_ours && !self.sleep.is_elapsed() {
            return Poll::Pending;
        }
        loop {
            if self.sleep.as_mut().poll(cx).is_pending() {
                if !holds_ours {
                    self.waker = Some(cx.waker().clone());
                }
                return Poll::Pending;
            }
            // From now, not from the missed deadline: a late look must not count twice.
            self.sleep.as_mut().reset(Instant::now() + self.period);
            if self.look() {
                // The reset sleep is polled again before it is trusted to wake us.
                self.waker = None;
                return Poll::Ready(());
            }
        }
    }

    /// Takes one look; whether the connection has been quiet long enough.
    fn look(&mut self) -> bool {
        // A request that started or finished since the last look, or one still in flight,
        // is activity: the quiet time starts again.
        let now = self.activity.counts();
        if now != self.last || now.in_flight() > 0 {
            self.last = now;
            self.quiet_looks = 0;
            return false;
        }
        self.quiet_looks += 1;
        self.quiet_looks >= LOOKS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(4);

    /// Whether the watchdog resolves within `within`.
    async fn fires_within(watchdog: &mut Watchdog, within: Duration) -> bool {
        tokio::time::timeout(within, watchdog.quiet()).await.is_ok()
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_is_quiet_after_the_timeout() {
        let mut watchdog = Watchdog::new(Arc::default(), TIMEOUT);
        let start = Instant::now();
        watchdog.quiet().await;
        assert_eq!(start.elapsed(), TIMEOUT);
        // Still quiet at the next look: the caller cuts it then.
        watchdog.quiet().await;
        assert_eq!(start.elapsed(), TIMEOUT + TIMEOUT / LOOKS);
    }

    #[tokio::test(start_paused = true)]
    async fn each_new_request_starts_the_timeout_again() {
        let activity = Arc::<Activity>::default();
        let mut watchdog = Watchdog::new(Arc::clone(&activity), TIMEOUT);
        // Between looks, so that no request and look fall on the same instant.
        let gap = TIMEOUT / 2 + TIMEOUT / 10;
        for _ in 0..3 {
            assert!(!fires_within(&mut watchdog, gap).await);
            drop(activity.start());
        }
        let start = Instant::now();
        watchdog.quiet().await;
        assert!(start.elapsed() > TIMEOUT, "{:?}", start.elapsed());
        assert!(start.elapsed() <= TIMEOUT + TIMEOUT / LOOKS);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_keeps_the_connection_however_long() {
        let activity = Arc::<Activity>::default();
        let mut watchdog = Watchdog::new(Arc::clone(&activity), TIMEOUT);
        let in_flight = activity.start();
        assert!(!fires_within(&mut watchdog, TIMEOUT * 10 + TIMEOUT / 10).await);
        drop(in_flight);
        let start = Instant::now();
        watchdog.quiet().await;
        assert!(start.elapsed() > TIMEOUT, "{:?}", start.elapsed());
        assert!(start.elapsed() <= TIMEOUT + TIMEOUT / LOOKS);
    }

    #[test]
    fn counts_never_show_more_finished_than_started() {
        let activity = Arc::<Activity>::default();
        let first = activity.start();
        let second = activity.start();
        assert_eq!(activity.counts().in_flight(), 2);
        drop(first);
        assert_eq!(activity.counts().in_flight(), 1);
        drop(second);
        let counts = activity.counts();
        assert_eq!((counts.started, counts.in_flight()), (2, 0));
    }
}
