//! The shared state machine: admission, recording and transitions.
//!
//! The closed path is a load of the state word, an optional clock read, and on record the
//! window's atomics: no lock, no allocation. Everything else (open, half-open, transitions)
//! is rare and may take the transition lock.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::classify::Outcome;
use super::clock::TimeSource;
use super::config::{Settings, WindowKind};
use super::error::BreakerOpen;
use super::listener::{StateListener, Transition};
use super::observe::Observer;
use super::state::{State, Word};
use super::tunables::Tunables;
use super::window::{CountWindow, Counts, OK, Padded, TimeWindow, TrialCounts, kind};

const NANOS_PER_SEC: u64 = 1_000_000_000;
/// The start time of a call admitted while nothing needed the clock: whatever the knobs are
/// by the time it reports, it measures as taking no time.
const UNTIMED: u64 = u64::MAX;

/// What a permit remembers: the state word it was admitted under and its start time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    pub(crate) word: Word,
    pub(crate) start: u64,
}

#[derive(Debug)]
enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

/// Everything the clones of a [`super::CircuitBreaker`] share.
pub(crate) struct Shared {
    word: Padded<AtomicU64>,
    pub(crate) name: Box<str>,
    /// The settings built with; only the window and the initial state are read from here.
    pub(crate) settings: Settings,
    /// The knobs that change while the breaker runs.
    pub(crate) tunables: Tunables,
    clock: TimeSource,
    /// A time window needs the time of every call (slow-call detection does too).
    time_window: bool,
    window: Window,
    trial_permits: AtomicU32,
    /// The trial calls of the current half-open state (the knob may change meanwhile).
    pub(crate) trials_expected: AtomicU32,
    trials: TrialCounts,
    open_until: AtomicU64,
    /// When a half-open breaker whose trials have not all reported opens again.
    half_open_until: AtomicU64,
    rejected: AtomicU64,
    /// Whether the state in force (forced open, disabled) is an operator's: configuration
    /// changes leave it alone until the operator releases it.
    pub(crate) by_operator: AtomicBool,
    /// Held by operators' transitions and by reconfiguration (never by calls), so that an
    /// operator's state and a reload's judgement of it do not interleave.
    pub(crate) control: Mutex<()>,
    lock: Mutex<()>,
    listener: Box<dyn StateListener>,
    observer: Observer,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("name", &self.name)
            .field("state", &self.word().state())
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(
        name: Box<str>,
        settings: Settings,
        clock: TimeSource,
        listener: Box<dyn StateListener>,
        metrics: bool,
    ) -> Self {
        let initial = if settings.start_disabled {
            State::Disabled
        } else {
            State::Closed
        };
        let now_sec = clock.now_nanos() / NANOS_PER_SEC;
        let window = match settings.window.kind {
            WindowKind::Count => Window::Count(CountWindow::new(settings.window.size)),
            WindowKind::Time => Window::Time(TimeWindow::new(settings.window.size, now_sec)),
        };
        let time_window = settings.window.kind == WindowKind::Time;
        let observer = if metrics {
            Observer::new(&name, initial)
        } else {
            Observer::silent()
        };
        Self {
            word: Padded(AtomicU64::new(Word::initial(initial).0)),
            name,
            tunables: Tunables::new(&settings),
            settings,
            clock,
            time_window,
            window,
            trial_permits: AtomicU32::new(0),
            trials_expected: AtomicU32::new(0),
            trials: TrialCounts::default(),
            open_until: AtomicU64::new(0),
            half_open_until: AtomicU64::new(u64::MAX),
            rejected: AtomicU64::new(0),
            by_operator: AtomicBool::new(false),
            control: Mutex::new(()),
            lock: Mutex::new(()),
            listener,
            observer,
        }
    }

    #[inline]
    pub(crate) fn word(&self) -> Word {
        Word(self.word.load(Ordering::Acquire))
    }

    #[inline]
    pub(crate) fn now_nanos(&self) -> u64 {
        self.clock.now_nanos()
    }

    /// Whether a call's time is needed: a time window, or slow-call detection.
    #[inline]
    fn needs_clock(&self) -> bool {
        self.time_window || self.tunables.slow_nanos().is_some()
    }

    #[inline]
    fn start_time(&self) -> u64 {
        if self.needs_clock() {
            self.now_nanos()
        } else {
            UNTIMED
        }
    }

    /// Admits a call or rejects it.
    #[inline]
    pub(crate) fn acquire(&self) -> Result<Ticket, BreakerOpen> {
        let word = self.word();
        if word.state() == State::Closed {
            return Ok(Ticket {
                word,
                start: self.start_time(),
            });
        }
        self.acquire_slow(word)
    }

    #[cold]
    fn acquire_slow(&self, mut word: Word) -> Result<Ticket, BreakerOpen> {
        loop {
            match word.state() {
                State::Closed | State::Disabled => {
                    let start = self.start_time();
                    return Ok(Ticket { word, start });
                }
                State::Open => {
                    let (now, until) = (self.now_nanos(), self.open_until.load(Ordering::Acquire));
                    if now < until {
                        let trial_in = Duration::from_nanos(until - now);
                        return Err(self.reject(State::Open, Some(trial_in)));
                    }
                    self.transition(word, State::HalfOpen);
                }
                State::HalfOpen => {
                    let taken = self
                        .trial_permits
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                        .is_ok();
                    if !taken {
                        if !self.half_open_expired(word) {
                            return Err(self.reject(State::HalfOpen, None));
                        }
                        word = self.word();
                        continue;
                    }
                    if self.word() == word {
                        let start = self.start_time();
                        return Ok(Ticket { word, start });
                    }
                    // The state moved on while we took a trial slot: give it back, look again.
                    self.trial_permits.fetch_add(1, Ordering::AcqRel);
                }
                State::ForcedOpen => return Err(self.reject(State::ForcedOpen, None)),
            }
            word = self.word();
        }
    }

    fn reject(&self, state: State, trial_in: Option<Duration>) -> BreakerOpen {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        self.observer.rejected();
        BreakerOpen::new(state, trial_in)
    }

    /// Records the outcome of an admitted call; `elapsed` overrides the measured duration.
    #[inline]
    pub(crate) fn record(&self, ticket: Ticket, outcome: Outcome, elapsed: Option<u64>) {
        if outcome == Outcome::Success
            && ticket.word.state() == State::Closed
            && self.quiet_success(ticket.start, elapsed)
        {
            return;
        }
        self.record_any(ticket, outcome, elapsed);
    }

    /// Whether a success admitted while closed is a fast one into a full count window holding
    /// no failure or slow call: it would replace a fast success, so there is nothing to write
    /// (whatever the state is by now).
    #[inline]
    fn quiet_success(&self, start: u64, elapsed: Option<u64>) -> bool {
        let Window::Count(window) = &self.window else {
            return false;
        };
        if !window.full_and_clean() {
            return false;
        }
        match self.tunables.slow_nanos() {
            None => true,
            Some(limit) => {
                elapsed.unwrap_or_else(|| self.now_nanos().saturating_sub(start)) <= limit
            }
        }
    }

    fn record_any(&self, ticket: Ticket, outcome: Outcome, elapsed: Option<u64>) {
        let state = ticket.word.state();
        if state == State::Disabled {
            return;
        }
        if outcome == Outcome::Ignored {
            self.release(ticket);
            return;
        }
        let now = if self.needs_clock() {
            self.now_nanos()
        } else {
            0
        };
        let slow = self.tunables.slow_nanos().is_some_and(|limit| {
            elapsed.unwrap_or_else(|| now.saturating_sub(ticket.start)) > limit
        });
        let kind = kind(outcome == Outcome::Failure, slow);
        if self.word() != ticket.word {
            return; // admitted under an older state: its outcome no longer matters
        }
        match state {
            State::Closed => {
                let counts = match &self.window {
                    Window::Count(w) => w.record(kind),
                    Window::Time(w) => w.record(kind, now / NANOS_PER_SEC),
                };
                if let Some(counts) = counts {
                    if kind == OK && counts.failures == 0 && counts.slow == 0 {
                        return;
                    }
                    if self.exceeded(counts, self.tunables.minimum_calls()) {
                        self.transition(ticket.word, State::Open);
                    }
                }
            }
            State::HalfOpen => self.record_trial(ticket.word, kind),
            _ => {}
        }
    }

    #[cold]
    fn record_trial(&self, word: Word, kind: u8) {
        let trials = u64::from(self.trials_expected.load(Ordering::Acquire));
        let counts = self.trials.record(kind);
        if counts.calls == trials {
            let to = if self.exceeded(counts, trials) {
                State::Open
            } else {
                State::Closed
            };
            self.transition(word, to);
        }
    }

    /// A permit dropped without an outcome: gives a half-open trial slot back.
    pub(crate) fn release(&self, ticket: Ticket) {
        if ticket.word.state() == State::HalfOpen && self.word() == ticket.word {
            self.trial_permits.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Whether the rates in `counts` open the breaker.
    pub(crate) fn exceeded(&self, counts: Counts, minimum: u64) -> bool {
        if counts.calls == 0 || counts.calls < minimum {
            return false;
        }
        let t = &self.tunables;
        counts.failures * 10_000 >= t.failure_bp() * counts.calls
            || (t.slow_nanos().is_some() && counts.slow * 10_000 >= t.slow_bp() * counts.calls)
    }

    /// The aggregate of the current window (the trial calls in half-open).
    pub(crate) fn counts(&self, state: State) -> Counts {
        if state == State::HalfOpen {
            return self.trials.snapshot();
        }
        match &self.window {
            Window::Count(w) => w.snapshot(),
            Window::Time(w) => w.snapshot(self.now_nanos() / NANOS_PER_SEC),
        }
    }

    pub(crate) fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Whether the half-open state of `word` outlived `max_wait_in_half_open`; if so, its
    /// outstanding trials count as failed and the breaker opens again.
    #[cold]
    fn half_open_expired(&self, word: Word) -> bool {
        if self.now_nanos() < self.half_open_until.load(Ordering::Acquire) {
            return false;
        }
        if self.transition(word, State::Open) {
            tracing::warn!(
                breaker = %self.name,
                "half-open trials did not all report within max_wait_in_half_open: open again"
            );
        }
        true
    }

    /// The current state, applying an automatic open -> half-open transition when configured,
    /// and a half-open state's expiry.
    pub(crate) fn state(&self) -> State {
        let word = self.word();
        if word.state() == State::HalfOpen && self.half_open_expired(word) {
            return self.word().state();
        }
        if word.state() == State::Open
            && self.tunables.automatic_transition()
            && self.now_nanos() >= self.open_until.load(Ordering::Acquire)
        {
            self.transition(word, State::HalfOpen);
            return self.word().state();
        }
        word.state()
    }

    /// Moves from `from` (if it is still current) to `to`; returns whether it did.
    pub(crate) fn transition(&self, from: Word, to: State) -> bool {
        let guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        if self.word() != from {
            return false;
        }
        self.enter(to);
        self.word.store(from.next(to).0, Ordering::Release);
        self.observer.transition(&self.name, from.state(), to);
        drop(guard);
        self.listener.on_transition(&Transition {
            name: &self.name,
            from: from.state(),
            to,
        });
        true
    }

    /// An operator's transition to `to` from whatever the state is; `false` if already there.
    pub(crate) fn transition_to(&self, to: State) -> bool {
        loop {
            let word = self.word();
            if word.state() == to {
                return false;
            }
            if self.transition(word, to) {
                return true;
            }
        }
    }

    /// Back to closed with an empty window (quietly when already closed).
    pub(crate) fn reset(&self) {
        let guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let word = self.word();
        if word.state() != State::Closed {
            drop(guard);
            if !self.transition_to(State::Closed) {
                self.reset();
            }
            return;
        }
        self.enter(State::Closed);
        self.word
            .store(word.next(State::Closed).0, Ordering::Release);
    }

    /// Prepares the state being entered; called under the lock, before publishing it.
    fn enter(&self, to: State) {
        match to {
            State::Closed => match &self.window {
                Window::Count(w) => w.reset(),
                Window::Time(w) => w.reset(self.now_nanos() / NANOS_PER_SEC),
            },
            State::Open => {
                let until = self.now_nanos().saturating_add(self.tunables.wait_nanos());
                self.open_until.store(until, Ordering::Release);
            }
            State::HalfOpen => {
                self.trials.reset();
                let trials = self.tunables.half_open_calls();
                self.trials_expected.store(trials, Ordering::Release);
                self.trial_permits.store(trials, Ordering::Release);
                let until = self
                    .now_nanos()
                    .saturating_add(self.tunables.half_open_max_nanos());
                self.half_open_until.store(until, Ordering::Release);
            }
            State::ForcedOpen | State::Disabled => {}
        }
    }
}
