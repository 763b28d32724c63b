//! The knobs a breaker changes while it runs: everything but its window, as atomics.
//!
//! The hot path reads them with relaxed loads (plain loads on x86 and ARM), so a breaker
//! that can be retuned costs what a fixed one did. A change takes effect for the next call
//! and the next judgement; the window, its counts and the state stay.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::config::Settings;

/// `slow_nanos` when slow-call detection is off.
const OFF: u64 = 0;

#[derive(Debug)]
pub(crate) struct Tunables {
    failure_bp: AtomicU64,
    slow_bp: AtomicU64,
    slow_nanos: AtomicU64,
    minimum_calls: AtomicU64,
    wait_nanos: AtomicU64,
    half_open_calls: AtomicU32,
    half_open_max_nanos: AtomicU64,
    automatic_transition: AtomicBool,
    /// `enabled` as last configured (not the state: an operator may have disabled it).
    enabled: AtomicBool,
}

impl Tunables {
    pub(crate) fn new(settings: &Settings) -> Self {
        let tunables = Self {
            failure_bp: AtomicU64::new(0),
            slow_bp: AtomicU64::new(0),
            slow_nanos: AtomicU64::new(OFF),
            minimum_calls: AtomicU64::new(0),
            wait_nanos: AtomicU64::new(0),
            half_open_calls: AtomicU32::new(0),
            half_open_max_nanos: AtomicU64::new(0),
            automatic_transition: AtomicBool::new(false),
            enabled: AtomicBool::new(true),
        };
        tunables.store(settings);
        tunables
    }

    /// Takes every knob of `settings` but the window.
    pub(crate) fn store(&self, s: &Settings) {
        let r = Ordering::Relaxed;
        self.failure_bp.store(s.failure_bp, r);
        self.slow_bp.store(s.slow_bp, r);
        self.slow_nanos
            .store(s.slow_nanos.map_or(OFF, |limit| limit.max(1)), r);
        self.minimum_calls.store(s.minimum_calls, r);
        self.wait_nanos.store(s.wait_nanos, r);
        self.half_open_calls.store(s.half_open_calls, r);
        self.half_open_max_nanos.store(s.half_open_max_nanos, r);
        self.automatic_transition.store(s.automatic_transition, r);
        self.enabled.store(!s.start_disabled, r);
    }

    /// Whether the configuration last stored enables the breaker.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn failure_bp(&self) -> u64 {
        self.failure_bp.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn slow_bp(&self) -> u64 {
        self.slow_bp.load(Ordering::Relaxed)
    }

    /// The slow-call limit; `None` when detection is off.
    #[inline]
    pub(crate) fn slow_nanos(&self) -> Option<u64> {
        match self.slow_nanos.load(Ordering::Relaxed) {
            OFF => None,
            limit => Some(limit),
        }
    }

    #[inline]
    pub(crate) fn minimum_calls(&self) -> u64 {
        self.minimum_calls.load(Ordering::Relaxed)
    }

    pub(crate) fn wait_nanos(&self) -> u64 {
        self.wait_nanos.load(Ordering::Relaxed)
    }

    pub(crate) fn half_open_calls(&self) -> u32 {
        self.half_open_calls.load(Ordering::Relaxed)
    }

    pub(crate) fn half_open_max_nanos(&self) -> u64 {
        self.half_open_max_nanos.load(Ordering::Relaxed)
    }

    pub(crate) fn automatic_transition(&self) -> bool {
        self.automatic_transition.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::resilience::breaker::{
        BreakerConfig, BreakerConfigError, CircuitBreaker, ManualClock, Outcome, State,
        WindowConfig, WindowKind,
    };

    fn config() -> BreakerConfig {
        BreakerConfig {
            minimum_calls: 4,
            slow_call_duration: None,
            window: WindowConfig {
                kind: WindowKind::Count,
                size: 10,
            },
            ..BreakerConfig::default()
        }
    }

    fn record(breaker: &CircuitBreaker, outcomes: &[Outcome]) {
        for outcome in outcomes {
            breaker.try_acquire().expect("admitted").record(*outcome);
        }
    }

    #[test]
    fn a_new_threshold_judges_the_window_it_finds() {
        use Outcome::{Failure, Success};
        let breaker = CircuitBreaker::builder("t")
            .config(config())
            .build()
            .unwrap();
        let looser = BreakerConfig {
            failure_rate_threshold: 80.0,
            ..config()
        };
        breaker.reconfigure(&looser).unwrap();
        record(&breaker, &[Failure, Success, Failure, Success]);
        assert_eq!(breaker.state(), State::Closed, "50% is below 80%");
        breaker.reconfigure(&config()).unwrap();
        assert_eq!(breaker.metrics().calls, 4, "the window survives");
        record(&breaker, &[Failure]);
        assert_eq!(breaker.state(), State::Open, "3 of 5 reach 50%");
        breaker.reconfigure(&looser).unwrap();
        assert_eq!(breaker.state(), State::Open, "the state survives");
    }

    #[test]
    fn another_window_is_refused_and_changes_nothing() {
        let breaker = CircuitBreaker::builder("t")
            .config(config())
            .build()
            .unwrap();
        record(&breaker, &[Outcome::Failure]);
        let other = BreakerConfig {
            window: WindowConfig {
                kind: WindowKind::Count,
                size: 20,
            },
            failure_rate_threshold: 10.0,
            ..config()
        };
        assert_eq!(
            breaker.reconfigure(&other),
            Err(BreakerConfigError::WindowChanged)
        );
        assert_eq!(breaker.metrics().calls, 1);
        record(&breaker, &[Outcome::Success; 2]);
        assert_eq!(breaker.state(), State::Closed, "the old threshold holds");
    }

    #[test]
    fn turning_slow_detection_on_spares_calls_admitted_before() {
        let clock = ManualClock::new();
        clock.set(Duration::from_secs(1000));
        let breaker = CircuitBreaker::builder("t")
            .config(config())
            .clock(clock.clone())
            .build()
            .unwrap();
        let permit = breaker.try_acquire().unwrap();
        let slow = BreakerConfig {
            slow_call_duration: Some(Duration::from_millis(1)),
            ..config()
        };
        breaker.reconfigure(&slow).unwrap();
        permit.record(Outcome::Success);
        assert_eq!(breaker.metrics().slow_calls, 0);
        let permit = breaker.try_acquire().unwrap();
        clock.advance(Duration::from_millis(5));
        permit.record(Outcome::Success);
        assert_eq!(breaker.metrics().slow_calls, 1, "timed from now on");
    }

    #[test]
    fn enabled_follows_the_configuration() {
        let breaker = CircuitBreaker::builder("t")
            .config(config())
            .build()
            .unwrap();
        let off = BreakerConfig {
            enabled: false,
            ..config()
        };
        breaker.reconfigure(&off).unwrap();
        assert_eq!(breaker.state(), State::Disabled);
        breaker.reconfigure(&off).unwrap();
        assert_eq!(breaker.state(), State::Disabled);
        breaker.reconfigure(&config()).unwrap();
        assert_eq!(breaker.state(), State::Closed);
        // An operator's override is not lifted by a configuration that did not change.
        breaker.force_open();
        breaker.reconfigure(&config()).unwrap();
        assert_eq!(breaker.state(), State::ForcedOpen);
    }

    #[test]
    fn a_half_open_breaker_keeps_the_trials_it_entered_with() {
        let clock = ManualClock::new();
        let breaker = CircuitBreaker::builder("t")
            .config(BreakerConfig {
                half_open_calls: 2,
                ..config()
            })
            .clock(clock.clone())
            .build()
            .unwrap();
        breaker.half_open();
        breaker
            .reconfigure(&BreakerConfig {
                half_open_calls: 5,
                ..config()
            })
            .unwrap();
        record(&breaker, &[Outcome::Success, Outcome::Success]);
        assert_eq!(breaker.state(), State::Closed, "two trials decided");
    }
}
