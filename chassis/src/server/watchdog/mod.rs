//! The slow-client and idle-connection guard (`server.header_read_timeout`,
//! `server.idle_timeout`, `server.send_timeout`), kept beside hyper instead of in it.
//!
//! hyper's own header-read timeout arms a timer for every request head and takes one more
//! turn of its read loop per request to do so: about 1,250 instructions per request, a fifth
//! of all the chassis added (`benches/instructions.sh`). The watchdog instead counts, per
//! connection, the requests handed to the service, those whose response body hyper is done
//! with and the bytes written, notes whether a write waits for the peer and whether bytes
//! of a next request came, and looks [`LOOKS`] times per `server.header_read_timeout` (or
//! per `server.idle_timeout`, when shorter).
//!
//! A connection that has had no new request, none in flight, no bytes of answers written and
//! no answer waiting for the peer for long enough is asked to close gracefully (an idle
//! HTTP/1 connection closes at once, HTTP/2 gets `GOAWAY`) and is cut at the next look if it
//! is still open and quiet, with a reset: it was asked, and a polite close would leave what
//! it has not taken lingering in the kernel. Long enough is:
//!
//! - the head timeout on a new connection, and from the first bytes of a later head
//!   (HTTP/1), so a client that trickles a head is gone within one and a half of it;
//! - the idle timeout after a request when no next head began, so that kept-alive
//!   connections outlive the idle timeout of a load balancer in front, which must close
//!   first.
//!
//! Over HTTP/2 the peer's control frames are not a head, and what the server writes in
//! answer to them (a ping's answer, a `SETTINGS` acknowledgement) is not an answer's bytes:
//! only the payloads of `DATA` frames are (see `frames`). A peer that pings without asking
//! anything is closed at the head timeout, and after a request at the idle timeout, as a
//! silent one is.
//!
//! Slow handlers, long polls, streamed responses that pause (SSE) and large answers read
//! slowly are not cut. (Over HTTP/2 a peer that grants no flow-control window for a whole
//! idle timeout to an answer hyper has queued in full counts as gone.)
//!
//! A peer that stops reading is the other slow client: an answer waits for it and no byte
//! goes out. The answer waits in a write, for room in the socket, or over HTTP/2 in hyper,
//! which holds a chunk of it until the peer's flow-control window has room (see `service`).
//! Once the looks have found an answer waiting and no byte of answers written for
//! `server.send_timeout` (so up to two looks after the last byte went out), the connection
//! is cut at once, with a reset, as nginx's `send_timeout` with `reset_timedout_connection`
//! does: asking it to close gracefully would wait on the same full socket, and a plain
//! close would leave the unsent answer in the kernel until its retries run out. Requests
//! that come meanwhile do not excuse it: over HTTP/2 a peer could otherwise keep asking,
//! and hold as many answers as it may open streams. Progress is the connection's: a peer
//! that lets a byte out now and then keeps it, held answers and all, as an HTTP/1 peer that
//! reads a byte now and then keeps its one.
//!
//! What waits in the kernel, no write sees: the answers that fit in the socket's send
//! buffer of a peer that reads nothing. The kernel aborts such a connection itself: its
//! socket has `TCP_USER_TIMEOUT` set a little past the send timeout
//! ([`Timeouts::kernel_send_timeout`]), which counts how long the peer's receive window has
//! stayed shut (or what was sent unacknowledged) and also ends the orphans a close leaves
//! in `FIN-WAIT-1` with their unsent answers, which would otherwise probe for minutes.

mod frames;
mod io;
mod service;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

pub(super) use io::CountedIo;
pub(super) use service::Watched;

/// Looks at a connection's counts per `server.header_read_timeout` (or idle timeout, when
/// shorter).
const LOOKS: u32 = 4;
/// The shortest time between two looks (configuration refuses a zero timeout).
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// What a connection's requests and writes have done so far.
#[derive(Debug, Default)]
pub(super) struct Activity {
    /// Requests handed to the service.
    started: AtomicU64,
    /// Requests whose response body hyper is done with (or that were dropped).
    finished: AtomicU64,
    /// Bytes written to the peer.
    written: AtomicU64,
    /// Reads that brought bytes since a request last counted out, from one when it had no
    /// body: after a request with a body, the first may be the rest of it, which hyper
    /// drains after the answer when the handler did not read it. Two make a next head begun.
    reads_since_finish: AtomicU32,
    /// Whether the connection speaks HTTP/2, whose reads between requests are the peer's
    /// control frames, not a head.
    http2: AtomicBool,
    /// Whether the last write waited for the peer (its socket full).
    write_waiting: AtomicBool,
    /// HTTP/2 answers whose next chunk hyper holds, waiting for the peer's flow-control
    /// window.
    held: AtomicU32,
    /// Whether the connection is to be closed with a reset, dropping what is unsent.
    reset: AtomicBool,
}

impl Activity {
    /// Counts a request in, one `with_body` or not, over HTTP/2 or not; it counts out when
    /// the returned guard drops.
    fn start(self: &Arc<Self>, with_body: bool, http2: bool) -> InFlight {
        self.started.fetch_add(1, Ordering::Relaxed);
        InFlight {
            activity: Arc::clone(self),
            with_body,
            http2,
            holding: false,
        }
    }

    /// Counts `bytes` written to the peer.
    fn wrote(&self, bytes: usize) {
        self.written.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Notes that the connection speaks HTTP/2.
    fn speaks_http2(&self) {
        self.http2.store(true, Ordering::Relaxed);
    }

    /// Notes bytes received from the peer.
    fn received(&self) {
        self.reads_since_finish.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request out, one `with_body` or not.
    fn finish(&self, with_body: bool) {
        self.reads_since_finish
            .store(u32::from(!with_body), Ordering::Relaxed);
        self.finished.fetch_add(1, Ordering::Relaxed);
    }

    /// Notes whether the connection's last write waits for the peer.
    fn write_waits(&self, waits: bool) {
        self.write_waiting.store(waits, Ordering::Relaxed);
    }

    /// Has the connection closed with a reset when its socket drops.
    pub(super) fn reset_on_close(&self) {
        self.reset.store(true, Ordering::Relaxed);
    }

    /// Whether an answer waits for the peer: a write for room in its socket, or over
    /// HTTP/2 a chunk for its flow-control window.
    pub(super) fn is_waiting_on_peer(&self) -> bool {
        self.write_waiting.load(Ordering::Relaxed) || self.held.load(Ordering::Relaxed) > 0
    }

    /// Whether bytes of a next HTTP/1 request head came since a request last counted out.
    fn has_head_begun(&self) -> bool {
        self.reads_since_finish.load(Ordering::Relaxed) >= 2 && !self.http2.load(Ordering::Relaxed)
    }

    /// Whether [`reset_on_close`](Self::reset_on_close) was asked for.
    fn resets_on_close(&self) -> bool {
        self.reset.load(Ordering::Relaxed)
    }

    /// The counts now. They are read by the connection's task, which also writes `started`
    /// and the writes; `finished` may lag behind (an HTTP/2 stream ends on a task of its
    /// own), which only shows a request in flight a moment longer.
    fn counts(&self) -> Counts {
        Counts {
            started: self.started.load(Ordering::Relaxed),
            finished: self.finished.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            waiting: self.is_waiting_on_peer(),
        }
    }
}

/// A connection's [`Activity`] at one look.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    started: u64,
    finished: u64,
    written: u64,
    /// Whether an answer waits for the peer (see [`Activity::is_waiting_on_peer`]).
    waiting: bool,
}

impl Counts {
    fn in_flight(self) -> u64 {
        self.started.saturating_sub(self.finished)
    }
}

/// One request in flight: counted out on drop, whether it was answered or abandoned.
#[derive(Debug)]
pub(super) struct InFlight {
    activity: Arc<Activity>,
    /// Whether the request came with a body.
    with_body: bool,
    /// Whether the request came over HTTP/2.
    http2: bool,
    /// Whether hyper holds a chunk of the answer it has not sent yet (HTTP/2).
    holding: bool,
}

impl InFlight {
    /// Notes that the answer gave hyper a chunk of `len` bytes. Over HTTP/2 hyper holds a
    /// chunk until the peer's flow-control window has room for it, and only then asks for
    /// the next: the answer is held until [`asked_again`](Self::asked_again).
    fn gave(&mut self, len: usize) {
        if self.http2 && len > 0 && !self.holding {
            self.holding = true;
            self.activity.held.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Notes that hyper asks for more of the answer (or is done with it): what it held is
    /// sent, or queued to be.
    fn asked_again(&mut self) {
        if self.holding {
            self.holding = false;
            self.activity.held.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.asked_again();
        self.activity.finish(self.with_body);
    }
}

/// How long a connection may stay quiet, and how long a write may wait on a peer that takes
/// nothing.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    /// Quiet with a request head due: a new connection's first, or a next one begun
    /// (`server.header_read_timeout`).
    pub(super) head: Duration,
    /// Quiet after a request, with no next head begun (`server.idle_timeout`).
    pub(super) idle: Duration,
    /// A write waiting with no byte taken (`server.send_timeout`).
    pub(super) stalled: Duration,
}

impl Timeouts {
    /// The send timeout the kernel enforces on the connection's socket: a backstop, a
    /// second or two looks (whichever is longer) after the send timeout, so that a stall
    /// the watchdog sees ends with its reset, which tells the peer.
    pub(super) fn kernel_send_timeout(&self) -> Duration {
        self.stalled + (period(self) * 2).max(Duration::from_secs(1))
    }
}

/// The time between two looks at a connection with these `timeouts`.
fn period(timeouts: &Timeouts) -> Duration {
    (timeouts.head.min(timeouts.idle) / LOOKS).max(MIN_PERIOD)
}

/// Why a connection should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Quiet for a whole timeout: ask it to close, cut it at the next quiet look.
    Quiet,
    /// Its peer took nothing of a waiting write for the send timeout: cut it now.
    Stalled,
}

/// Watches one connection's [`Activity`].
#[derive(Debug)]
pub(super) struct Watchdog {
    activity: Arc<Activity>,
    /// Time between two looks.
    period: Duration,
    /// How long the connection may be quiet or stalled.
    timeouts: Timeouts,
    /// Until the next look.
    sleep: Pin<Box<Sleep>>,
    /// The waker `sleep` holds, from its last poll.
    waker: Option<Waker>,
    /// The counts at the last look.
    last: Counts,
    /// When the last look was taken (or the watchdog made).
    looked_at: Instant,
    /// Since the last look that found activity (or since the watchdog was made).
    quiet_since: Instant,
    /// The look that first found bytes of a new request head while quiet.
    head_since: Option<Instant>,
    /// Since when a write has been waiting with no byte written: the look before the first
    /// that found it so.
    stalled_since: Option<Instant>,
}

impl Watchdog {
    /// A watchdog for a connection with these `timeouts`.
    pub(super) fn new(activity: Arc<Activity>, timeouts: Timeouts) -> Self {
        let period = period(&timeouts);
        let now = Instant::now();
        Self {
            activity,
            period,
            timeouts,
            sleep: Box::pin(tokio::time::sleep(period)),
            waker: None,
            last: Counts::default(),
            looked_at: now,
            quiet_since: now,
            head_since: None,
            stalled_since: None,
        }
    }

    /// Resolves at the first look that finds the connection quiet for a whole timeout, or a
    /// write stalled for the send timeout, and again at each later look that still does.
    pub(super) fn verdict(&mut self) -> impl Future<Output = Verdict> + '_ {
        std::future::poll_fn(|cx| self.poll_verdict(cx))
    }

    fn poll_verdict(&mut self, cx: &mut Context<'_>) -> Poll<Verdict> {
        // The connection's task wakes several times per request and polls this each time.
        // A pending sleep keeps the waker it was polled with until it fires, so polling it
        // again with the same waker would only register that waker again.
        let holds_ours = self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
        if holds_ours && !self.sleep.is_elapsed() {
            return Poll::Pending;
        }
        loop {
            // Unconstrained: out of the task's coop budget, a `Sleep` answers `Pending`
            // without registering the waker, and the check above would then trust a sleep
            // that never wakes us.
            let polled =
                std::pin::pin!(tokio::task::coop::unconstrained(self.sleep.as_mut())).poll(cx);
            if polled.is_pending() {
                if !holds_ours {
                    self.waker = Some(cx.waker().clone());
                }
                return Poll::Pending;
            }
            // From now, not from the missed deadline: a late look must not count twice.
            let now = Instant::now();
            self.sleep.as_mut().reset(now + self.period);
            if let Some(verdict) = self.look(now) {
                // The reset sleep is polled again before it is trusted to wake us.
                self.waker = None;
                return Poll::Ready(verdict);
            }
        }
    }

    /// Takes one look at instant `at`; the verdict, once the connection has been quiet or
    /// stalled long enough.
    fn look(&mut self, at: Instant) -> Option<Verdict> {
        let now = self.activity.counts();
        // An answer waiting for the peer and nothing of it written since the last look: the
        // peer takes nothing, and may have taken nothing since that look.
        let stalled = if now.waiting && now.written == self.last.written {
            let since = *self.stalled_since.get_or_insert(self.looked_at);
            at.saturating_duration_since(since) >= self.timeouts.stalled
        } else {
            self.stalled_since = None;
            false
        };
        self.looked_at = at;
        // A request that started or finished since the last look, bytes of answers written
        // since, a request still in flight or an answer waiting is activity: the quiet time
        // starts again (a waiting answer is the send timeout's to judge). Bytes read are not:
        // a head trickled byte by byte must not keep the connection, nor pings answered.
        if now != self.last || now.in_flight() > 0 || now.waiting {
            self.last = now;
            self.quiet_since = at;
            self.head_since = None;
        }
        let head_begun = now.started > 0 && self.activity.has_head_begun();
        if head_begun {
            self.head_since.get_or_insert(at);
        }
        if stalled {
            Some(Verdict::Stalled)
        } else if self.quiet_too_long(at, now.started, head_begun) {
            Some(Verdict::Quiet)
        } else {
            None
        }
    }

    /// Whether the connection, quiet since `quiet_since`, has been so for too long at `at`:
    /// waiting for a head (a new connection's first, or one whose bytes began to come), or
    /// idle after a request.
    fn quiet_too_long(&self, at: Instant, started: u64, head_begun: bool) -> bool {
        let (since, timeout) = match (started, self.head_since) {
            (0, _) => (self.quiet_since, self.timeouts.head),
            (_, Some(head_since)) if head_begun => (head_since, self.timeouts.head),
            _ => (self.quiet_since, self.timeouts.idle),
        };
        at.saturating_duration_since(since) >= timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(4);
    /// The time between two looks.
    const LOOK: Duration = Duration::from_secs(1);
    /// The idle and send timeouts, longer than [`TIMEOUT`] as by default.
    const IDLE_TIMEOUT: Duration = Duration::from_secs(12);
    const SEND_TIMEOUT: Duration = Duration::from_secs(24);

    fn watchdog(activity: &Arc<Activity>) -> Watchdog {
        let timeouts = Timeouts {
            head: TIMEOUT,
            idle: IDLE_TIMEOUT,
            stalled: SEND_TIMEOUT,
        };
        Watchdog::new(Arc::clone(activity), timeouts)
    }

    /// The verdict, if the watchdog gives one within `within`.
    async fn verdict_within(watchdog: &mut Watchdog, within: Duration) -> Option<Verdict> {
        tokio::time::timeout(within, watchdog.verdict()).await.ok()
    }

    /// Whether the watchdog gives a verdict within `within`.
    async fn fires_within(watchdog: &mut Watchdog, within: Duration) -> bool {
        verdict_within(watchdog, within).await.is_some()
    }

    /// Between two looks, so that no change and look fall on the same instant.
    const GAP: Duration = Duration::from_millis(2_400);

    /// Waits for the verdict and checks it came more than `timeout`, and at most one look
    /// more, after the last change (just before the call).
    async fn quiet_after(watchdog: &mut Watchdog, timeout: Duration) {
        let start = Instant::now();
        assert_eq!(watchdog.verdict().await, Verdict::Quiet);
        let waited = start.elapsed();
        assert!(waited > timeout && waited <= timeout + LOOK, "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_is_quiet_after_the_timeout() {
        let mut watchdog = watchdog(&Arc::default());
        let start = Instant::now();
        assert_eq!(watchdog.verdict().await, Verdict::Quiet);
        assert_eq!(start.elapsed(), TIMEOUT);
        // Still quiet at the next look: the caller cuts it then.
        assert_eq!(watchdog.verdict().await, Verdict::Quiet);
        assert_eq!(start.elapsed(), TIMEOUT + LOOK);
    }

    #[tokio::test(start_paused = true)]
    async fn each_new_request_starts_the_idle_timeout_again() {
        let activity = Arc::<Activity>::default();
        let mut watchdog = watchdog(&activity);
        for _ in 0..3 {
            assert!(!fires_within(&mut watchdog, GAP).await);
            drop(activity.start(false, false));
        }
        quiet_after(&mut watchdog, IDLE_TIMEOUT).await;
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_outlives_the_head_timeout() {
        let activity = Arc::<Activity>::default();
        let mut watchdog = watchdog(&activity);
        // A request whose body was read: those bytes were its own, not the next head's; so
        // is one read after the answer, hyper draining the rest of the body.
        let in_flight = activity.start(true, false);
        activity.received();
        drop(in_flight);
        activity.received();
        // Twice the head timeout and more, with nothing read since: idle, not a slow head.
        assert!(!fires_within(&mut watchdog, TIMEOUT * 2 + GAP).await);
        assert_eq!(watchdog.verdict().await, Verdict::Quiet);
    }

    #[tokio::test(start_paused = true)]
    async fn http2_control_frames_between_requests_are_not_a_head() {
        let activity = Arc::<Activity>::default();
        let mut watchdog = watchdog(&activity);
        activity.speaks_http2();
        drop(activity.start(false, false));
        // Window updates or a settings acknowledgement after the stream: still idle.
        activity.received();
        activity.received();
        assert!(!fires_within(&mut watchdog, TIMEOUT * 2 + GAP).await);
        assert_eq!(watchdog.verdict().await, Verdict::Quiet);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_bytes_of_a_head_start_the_head_timeout() {
        let activity = Arc::<Activity>::default();
        let mut watchdog = watchdog(&activity);
        drop(activity.start(false, false));
        assert!(!fires_within(&mut watchdog, GAP).await);
        activity.received();
        // More bytes keep coming, but no whole head: they do not keep the connection.
        let start = Instant::now();
        let verdict = std::pin::pin!(watchdog.verdict());
        let trickle = async {
            loop {
                tokio::time::sleep(LOOK / 3).await;
                activity.received();
            }
        };
        let verdict = tokio::select! {
            verdict = verdict => Some(verdict),
            () = trickle => None,
            () = tokio::time::sleep(TIMEOUT * 2) => None,
        };
        assert_eq!(verdict, Some(Verdict::Quiet));
        let waited = start.elapsed();
        assert!(waited > TIMEOUT && waited <= TIMEOUT + LOOK, "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_keeps_the_connection_however_long() {
        let activity = Arc::<Activity>::default();
        let mut watchdog = watchdog(&activity);
        let in_flight = activity.start(false, false);
        assert!(!fires_within(&mut watchdog, TIMEOUT * 10 + GAP).await);
        drop(in_flight);
        quiet_after(&mut watchdog, IDLE_TIMEOUT).await;
    }

    /// Polls the watchdog in a fresh poll of the task, after spending the task's coop
    /// budget, as a connection whose first request used it up would.
    async fn poll_out_of_budget(watchdog: &mut Watchdog) -> Poll<Verdict> {
        let mut fresh = false;
        std::future::poll_fn(|cx| {
            if !fresh {
                fresh = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            while let Poll::Ready(spent) = tokio::task::coop::poll_proceed(cx) {
                spent.made_progress();
            }
            Poll::Ready(watchdog.poll_verdict(cx))
        })
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_look_out_of_the_tasks_budget_still_wakes_it() {
        let mut watchdog = watchdog(&Arc::default());
        assert!(poll_out_of_budget(&mut watchdog).await.is_pending());
        assert!(
            fires_within(&mut watchdog, TIMEOUT * 2).await,
            "never fired"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_the_peer_takes_bytes_of_keeps_the_connection() {
        let activity = Arc::<Activity>::default();
        let mut watchdog = watchdog(&activity);
        // Waiting all along, but the peer takes a little well within each send timeout.
        activity.write_waits(true);
        for _ in 0..10 {
            assert!(!fires_within(&mut watchdog, SEND_TIMEOUT / 2 + GAP).await);
            activity.wrote(1);
        }
        activity.write_waits(false);
        quiet_after(&mut watchdog, TIMEOUT).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_the_peer_takes_nothing_of_is_stalled_after_the_send_timeout() {
        let activity = Arc::<Activity>::default();
        let mut watchdog = watchdog(&activity);
        drop(activity.start(false, false));
        activity.wrote(16 << 10);
        activity.write_waits(true);
        let start = Instant::now();
        // Neither the request nor the bytes count once the peer has stopped taking them.
        assert_eq!(
            verdict_within(&mut watchdog, SEND_TIMEOUT * 2).await,
            Some(Verdict::Stalled)
        );
        let waited = start.elapsed();
        assert!(
            waited >= SEND_TIMEOUT && waited <= SEND_TIMEOUT + LOOK,
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_stalled_with_a_request_in_flight_is_stalled_too() {
        let activity = Arc::<Activity>::default();
        let mut watchdog = watchdog(&activity);
        let _in_flight = activity.start(false, false);
        activity.write_waits(true);
        assert_eq!(
            verdict_within(&mut watchdog, SEND_TIMEOUT * 2).await,
            Some(Verdict::Stalled)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_send_timeout_shorter_than_the_quiet_one_changes_neither_verdicts_time() {
        let activity = Arc::<Activity>::default();
        let short = Timeouts {
            head: TIMEOUT,
            idle: TIMEOUT,
            stalled: LOOK / 2,
        };
        let mut watchdog = Watchdog::new(Arc::clone(&activity), short);
        let start = Instant::now();
        assert_eq!(watchdog.verdict().await, Verdict::Quiet);
        assert_eq!(start.elapsed(), TIMEOUT);
        activity.write_waits(true);
        let start = Instant::now();
        assert_eq!(watchdog.verdict().await, Verdict::Stalled);
        // At the first look that finds the write waiting, and none before.
        assert_eq!(start.elapsed(), LOOK);
    }

    /// An HTTP/2 request whose answer gave hyper a chunk, which hyper holds.
    fn held(activity: &Arc<Activity>) -> InFlight {
        let mut in_flight = activity.start(false, true);
        in_flight.gave(5);
        in_flight
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_held_for_the_peers_window_is_stalled_after_the_send_timeout() {
        let activity = Arc::<Activity>::default();
        let mut watchdog = watchdog(&activity);
        let _held = held(&activity);
        let start = Instant::now();
        // In flight, but waiting on the peer: not a reason to keep the connection.
        assert_eq!(
            verdict_within(&mut watchdog, SEND_TIMEOUT * 2).await,
            Some(Verdict::Stalled)
        );
        let waited = start.elapsed();
        assert!(
            waited >= SEND_TIMEOUT && waited <= SEND_TIMEOUT + LOOK,
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn new_requests_do_not_keep_a_held_answer() {
        let activity = Arc::<Activity>::default();
        let mut watchdog = watchdog(&activity);
        let _held = held(&activity);
        // A request every half look, answered without a byte of body going out.
        let requests = async {
            loop {
                tokio::time::sleep(LOOK / 2).await;
                drop(activity.start(false, true));
            }
        };
        let verdict = tokio::select! {
            verdict = watchdog.verdict() => Some(verdict),
            () = requests => None,
            () = tokio::time::sleep(SEND_TIMEOUT * 2) => None,
        };
        assert_eq!(verdict, Some(Verdict::Stalled));
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_answer_whose_bytes_go_out_keeps_the_connection() {
        let activity = Arc::<Activity>::default();
        let mut watchdog = watchdog(&activity);
        // hyper holds the next chunk while the window lets the previous one out slowly.
        let mut held = held(&activity);
        for _ in 0..10 {
            assert!(!fires_within(&mut watchdog, SEND_TIMEOUT / 2 + GAP).await);
            activity.wrote(1);
        }
        held.asked_again();
        assert!(!activity.is_waiting_on_peer());
        drop(held);
        quiet_after(&mut watchdog, IDLE_TIMEOUT).await;
    }

    #[test]
    fn only_http2_answers_with_bytes_are_held() {
        let activity = Arc::<Activity>::default();
        let mut http1 = activity.start(false, false);
        http1.gave(5);
        let mut empty = activity.start(false, true);
        empty.gave(0);
        assert!(!activity.is_waiting_on_peer());
        let mut http2 = activity.start(false, true);
        http2.gave(5);
        http2.gave(5);
        assert_eq!(activity.held.load(Ordering::Relaxed), 1);
        drop(http2);
        assert!(!activity.is_waiting_on_peer());
    }

    #[test]
    fn the_kernel_aborts_after_the_watchdog_would_reset() {
        let timeouts = Timeouts {
            head: TIMEOUT,
            idle: IDLE_TIMEOUT,
            stalled: SEND_TIMEOUT,
        };
        // Two looks after the send timeout, the latest the watchdog resets.
        assert_eq!(timeouts.kernel_send_timeout(), SEND_TIMEOUT + LOOK * 2);
        let short = Timeouts {
            head: Duration::from_millis(200),
            ..timeouts
        };
        assert_eq!(
            short.kernel_send_timeout(),
            SEND_TIMEOUT + Duration::from_secs(1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_written_keep_the_connection() {
        let activity = Arc::<Activity>::default();
        let mut watchdog = watchdog(&activity);
        for _ in 0..10 {
            assert!(!fires_within(&mut watchdog, GAP).await);
            activity.wrote(16 << 10);
        }
        quiet_after(&mut watchdog, TIMEOUT).await;
    }

    #[test]
    fn counts_never_show_more_finished_than_started() {
        let activity = Arc::<Activity>::default();
        let first = activity.start(false, false);
        let second = activity.start(false, false);
        assert_eq!(activity.counts().in_flight(), 2);
        drop(first);
        assert_eq!(activity.counts().in_flight(), 1);
        drop(second);
        let counts = activity.counts();
        assert_eq!((counts.started, counts.in_flight()), (2, 0));
    }
}
