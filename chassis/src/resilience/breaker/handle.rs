//! The [`CircuitBreaker`] handle, its builder and the call [`Permit`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::classify::Outcome;
use super::clock::{Clock, TimeSource, saturating_nanos};
use super::config::BreakerConfig;
use super::core::{Shared, Ticket};
use super::error::{BreakerConfigError, BreakerOpen};
use super::layer::BreakerLayer;
use super::listener::StateListener;
use super::state::State;

/// A circuit breaker: the shared state and the operator's handle on it.
///
/// Cheap to clone; all clones (and every [`BreakerLayer`] and service built from them) share
/// one state. Use it directly around any call with [`try_acquire`](Self::try_acquire), or as a
/// tower layer with [`layer`](Self::layer).
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    pub(crate) shared: Arc<Shared>,
}

impl CircuitBreaker {
    /// A breaker named `name` (the client it protects, used in logs and metric labels).
    ///
    /// # Errors
    ///
    /// A [`BreakerConfigError`] when a value is out of range.
    pub fn new(
        name: impl Into<String>,
        config: &BreakerConfig,
    ) -> Result<Self, BreakerConfigError> {
        Self::builder(name).config(config.clone()).build()
    }

    /// A builder, for a custom clock or a state listener.
    pub fn builder(name: impl Into<String>) -> BreakerBuilder {
        BreakerBuilder {
            name: name.into(),
            config: BreakerConfig::default(),
            clock: None,
            listener: Box::new(()),
            metrics: true,
        }
    }

    /// Asks to make a call. Closed admits at once (no lock, no allocation); open rejects until
    /// the wait is over, then half-open admits the configured number of trial calls.
    ///
    /// # Errors
    ///
    /// [`BreakerOpen`] when the call must not be made.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, BreakerOpen> {
        self.shared.acquire().map(|ticket| Permit {
            shared: &self.shared,
            ticket,
            done: false,
        })
    }

    /// Like [`try_acquire`](Self::try_acquire), with a permit that owns a handle (for futures).
    ///
    /// # Errors
    ///
    /// [`BreakerOpen`] when the call must not be made.
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit, BreakerOpen> {
        self.shared.acquire().map(|ticket| OwnedPermit {
            breaker: self.clone(),
            ticket,
            done: false,
        })
    }

    /// A tower layer that guards a service with this breaker.
    pub fn layer(&self) -> BreakerLayer {
        BreakerLayer::new(self.clone())
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The current state (after the wait in open, half-open when `automatic_transition` is on).
    pub fn state(&self) -> State {
        self.shared.state()
    }

    /// Rejects every call until [`reset`](Self::reset) or another operator transition.
    /// Returns `false` when already forced open.
    pub fn force_open(&self) -> bool {
        let _control = self.control();
        self.shared.by_operator.store(true, Ordering::Release);
        self.shared.transition_to(State::ForcedOpen)
    }

    /// Admits every call and records nothing until [`reset`](Self::reset) or another operator
    /// transition. Returns `false` when already disabled.
    pub fn disable(&self) -> bool {
        let _control = self.control();
        self.shared.by_operator.store(true, Ordering::Release);
        self.shared.transition_to(State::Disabled)
    }

    /// Opens the breaker now, as if the failure rate had been exceeded.
    pub fn open(&self) -> bool {
        let _control = self.control();
        self.shared.by_operator.store(false, Ordering::Release);
        self.shared.transition_to(State::Open)
    }

    /// Moves to half-open now, as if the wait were over.
    pub fn half_open(&self) -> bool {
        let _control = self.control();
        self.shared.by_operator.store(false, Ordering::Release);
        self.shared.transition_to(State::HalfOpen)
    }

    /// Back to normal operation: closed, with an empty window, from any state; disabled
    /// when the configuration says `enabled = false`.
    pub fn reset(&self) {
        let _control = self.control();
        self.shared.by_operator.store(false, Ordering::Release);
        if self.shared.tunables.enabled() {
            self.shared.reset();
        } else {
            self.shared.transition_to(State::Disabled);
        }
    }

    /// Whether the state in force is an operator's [`force_open`](Self::force_open) or
    /// [`disable`](Self::disable), which [`reconfigure`](Self::reconfigure) leaves alone
    /// until [`reset`](Self::reset) releases it.
    pub fn overridden(&self) -> bool {
        self.shared.by_operator.load(Ordering::Acquire)
            && matches!(self.state(), State::ForcedOpen | State::Disabled)
    }

    /// Applies `config` while the breaker runs: thresholds, slow-call detection, the minimum
    /// number of calls, the waits, the number of trials and `enabled` take effect for the
    /// next call, and the state, the window and its counts stay. A half-open breaker keeps
    /// the trial count it entered with. A change of `enabled` disables the breaker, or
    /// brings a disabled one back to closed, unless an operator's state is in force
    /// ([`overridden`](Self::overridden)): that stays until it is released.
    ///
    /// # Errors
    ///
    /// A [`BreakerConfigError`] when a value is out of range, or
    /// [`BreakerConfigError::WindowChanged`] when the window differs: a window cannot change
    /// under the counts it holds, so build a new breaker for it.
    pub fn reconfigure(&self, config: &BreakerConfig) -> Result<(), BreakerConfigError> {
        let settings = config.settings()?;
        if settings.window != self.shared.settings.window {
            return Err(BreakerConfigError::WindowChanged);
        }
        let _control = self.control();
        let was_enabled = self.shared.tunables.enabled();
        self.shared.tunables.store(&settings);
        if self.overridden() {
            return Ok(());
        }
        if was_enabled && !config.enabled {
            self.shared.transition_to(State::Disabled);
        } else if !was_enabled && config.enabled && self.state() == State::Disabled {
            self.shared.reset();
        }
        Ok(())
    }

    /// Serializes operators' transitions and reconfiguration (calls never take it).
    fn control(&self) -> std::sync::MutexGuard<'_, ()> {
        self.shared
            .control
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The window this breaker was built with (it cannot change: see
    /// [`reconfigure`](Self::reconfigure)).
    pub fn window(&self) -> super::WindowConfig {
        self.shared.settings.window
    }

    /// A snapshot of the window and counters.
    pub fn metrics(&self) -> BreakerMetrics {
        let state = self.shared.word().state();
        let counts = self.shared.counts(state);
        let minimum = if state == State::HalfOpen {
            u64::from(self.shared.trials_expected.load(Ordering::Acquire))
        } else {
            self.shared.tunables.minimum_calls()
        };
        let judged = counts.calls > 0 && counts.calls >= minimum;
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let rate = |n: u64| judged.then(|| (n as f64 * 100.0 / counts.calls as f64) as f32);
        BreakerMetrics {
            state,
            calls: counts.calls,
            failed_calls: counts.failures,
            slow_calls: counts.slow,
            rejected_calls: self.shared.rejected(),
            failure_rate: rate(counts.failures),
            slow_call_rate: self.shared.tunables.slow_nanos().and(rate(counts.slow)),
        }
    }
}

/// A snapshot of a breaker's window (the trial calls, in half-open) and counters.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct BreakerMetrics {
    /// The state when the snapshot was taken.
    pub state: State,
    /// Calls in the window.
    pub calls: u64,
    /// Failed calls in the window.
    pub failed_calls: u64,
    /// Slow calls (failed or not) in the window.
    pub slow_calls: u64,
    /// Calls rejected since the breaker was built.
    pub rejected_calls: u64,
    /// Percent of failed calls; `None` below the minimum number of calls.
    pub failure_rate: Option<f32>,
    /// Percent of slow calls; `None` below the minimum or when detection is off.
    pub slow_call_rate: Option<f32>,
}

/// Builds a [`CircuitBreaker`].
#[must_use]
pub struct BreakerBuilder {
    name: String,
    config: BreakerConfig,
    clock: Option<TimeSource>,
    listener: Box<dyn StateListener>,
    metrics: bool,
}

impl std::fmt::Debug for BreakerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakerBuilder")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl BreakerBuilder {
    /// The knobs (default: [`BreakerConfig::default`]).
    pub fn config(mut self, config: BreakerConfig) -> Self {
        self.config = config;
        self
    }

    /// The time source (default: [`super::CoarseClock::shared`]; a [`super::TokioClock`] inside a
    /// deterministic simulation); tests pass a [`super::ManualClock`],
    /// [`super::MonotonicClock`] measures with nanosecond precision at a few ns per read.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(TimeSource::new(clock));
        self
    }

    /// Called after every state change (default: nothing).
    pub fn listener(mut self, listener: impl StateListener) -> Self {
        self.listener = Box::new(listener);
        self
    }

    /// Records no metrics of its own (`chassis_breaker_*`), for breakers whose owner reports
    /// them in aggregate: one per endpoint of a client, say, whose series would otherwise
    /// carry an address and outlive the endpoint.
    pub fn without_metrics(mut self) -> Self {
        self.metrics = false;
        self
    }

    /// Validates the configuration and builds the breaker; registers its metrics with the
    /// current `metrics` recorder (unless [`without_metrics`](Self::without_metrics)).
    ///
    /// # Errors
    ///
    /// A [`BreakerConfigError`] when a value is out of range.
    pub fn build(self) -> Result<CircuitBreaker, BreakerConfigError> {
        let settings = self.config.settings()?;
        let clock = self.clock.unwrap_or_else(TimeSource::default_for_breakers);
        let shared = Shared::new(
            self.name.into_boxed_str(),
            settings,
            clock,
            self.listener,
            self.metrics,
        );
        Ok(CircuitBreaker {
            shared: Arc::new(shared),
        })
    }
}

/// Permission to make one call, borrowed from the breaker. Report how the call went with
/// [`record`](Self::record); a permit dropped without a record counts as ignored (in
/// half-open its trial slot is given back).
#[derive(Debug)]
#[must_use = "record the outcome of the call"]
pub struct Permit<'a> {
    shared: &'a Shared,
    ticket: Ticket,
    done: bool,
}

impl Permit<'_> {
    /// Records the outcome; the duration is measured by the breaker's clock since admission.
    #[inline]
    pub fn record(mut self, outcome: Outcome) {
        self.done = true;
        self.shared.record(self.ticket, outcome, None);
    }

    /// Records the outcome with a duration the caller measured.
    pub fn record_with_duration(mut self, outcome: Outcome, elapsed: Duration) {
        self.done = true;
        self.shared
            .record(self.ticket, outcome, Some(saturating_nanos(elapsed)));
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.done {
            self.shared.release(self.ticket);
        }
    }
}

/// A [`Permit`] that holds a handle on the breaker instead of borrowing it.
#[derive(Debug)]
#[must_use = "record the outcome of the call"]
pub struct OwnedPermit {
    breaker: CircuitBreaker,
    ticket: Ticket,
    done: bool,
}

impl OwnedPermit {
    /// Records the outcome; the duration is measured by the breaker's clock since admission.
    pub fn record(mut self, outcome: Outcome) {
        self.done = true;
        self.breaker.shared.record(self.ticket, outcome, None);
    }

    /// Records the outcome with a duration the caller measured.
    pub fn record_with_duration(mut self, outcome: Outcome, elapsed: Duration) {
        self.done = true;
        self.breaker
            .shared
            .record(self.ticket, outcome, Some(saturating_nanos(elapsed)));
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.shared.release(self.ticket);
        }
    }
}
