//! `clients.<name>.breaker.*`: the breaker's knobs as plain data, validated once.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::BreakerConfigError;

/// The configuration of a circuit breaker (`clients.<name>.breaker` in the service config).
///
/// ```toml
/// [clients.catalog.breaker]
/// failure_rate_threshold = 50      # percent of failed calls that opens the breaker
/// slow_call_rate_threshold = 100   # percent of slow calls that opens it
/// slow_call_duration = "2s"        # a call slower than this is slow ("" turns detection off)
/// minimum_calls = 20               # no judgement before this many calls in the window
/// window = { kind = "count", size = 100 }   # or { kind = "time", size = 60 } (seconds)
/// wait_in_open = "30s"             # how long to reject before trying again
/// half_open_calls = 10             # trial calls that decide between closed and open
/// max_wait_in_half_open = "60s"    # trials not all reported by then: open again
/// automatic_transition = false     # report half-open when the wait is over, without a call
/// enabled = true                   # false starts the breaker disabled (all calls pass)
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(clippy::struct_excessive_bools)]
pub struct BreakerConfig {
    /// `false` starts the breaker in the `disabled` state: calls pass, nothing is recorded.
    pub enabled: bool,
    /// The failure rate (percent, `0 < x <= 100`) at or above which the breaker opens.
    pub failure_rate_threshold: f32,
    /// The slow-call rate (percent, `0 < x <= 100`) at or above which the breaker opens.
    pub slow_call_rate_threshold: f32,
    /// A call taking longer than this is slow. `None` (an empty string) turns slow-call
    /// detection off, which also spares two clock reads per call.
    #[serde(with = "crate::config::duration::option")]
    pub slow_call_duration: Option<Duration>,
    /// The number of calls the window must hold before rates are judged. For a count window
    /// larger values are capped at the window size.
    pub minimum_calls: u32,
    /// The sliding window.
    pub window: WindowConfig,
    /// How long the breaker stays open before admitting trial calls.
    #[serde(with = "crate::config::duration")]
    pub wait_in_open: Duration,
    /// The number of trial calls admitted in half-open; their outcomes close or re-open.
    pub half_open_calls: u32,
    /// The longest the breaker stays half-open waiting for its trials' outcomes
    /// (Resilience4j's `maxWaitDurationInHalfOpenState`): trials that hang past it count as
    /// failed, and the breaker opens again, so a stuck trial cannot keep it half-open.
    #[serde(with = "crate::config::duration")]
    pub max_wait_in_half_open: Duration,
    /// When `true`, reading the state after the wait reports half-open even if no call came
    /// (Resilience4j's automatic transition, done lazily instead of with a timer).
    pub automatic_transition: bool,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration: Some(Duration::from_secs(60)),
            minimum_calls: 20,
            window: WindowConfig::default(),
            wait_in_open: Duration::from_secs(30),
            half_open_calls: 10,
            max_wait_in_half_open: Duration::from_secs(60),
            automatic_transition: false,
        }
    }
}

/// The sliding window over which rates are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowConfig {
    /// Count-based (the last `size` calls) or time-based (the calls of the last `size`
    /// seconds).
    pub kind: WindowKind,
    /// The number of calls, or of seconds.
    pub size: u32,
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self {
            kind: WindowKind::Count,
            size: 100,
        }
    }
}

/// The kind of sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    /// The last N calls.
    #[default]
    Count,
    /// The calls of the last N seconds (one bucket per second).
    Time,
}

/// The largest count window.
pub(crate) const MAX_COUNT_WINDOW: u32 = 1_000_000;
/// The largest time window, in seconds (one hour).
pub(crate) const MAX_TIME_WINDOW: u32 = 3600;
/// The most trial calls in half-open (they are counted in 21-bit fields).
pub(crate) const MAX_HALF_OPEN_CALLS: u32 = 1_000_000;

/// Validated settings, in the units the hot path uses.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) start_disabled: bool,
    /// Thresholds in hundredths of a percent (0..=10000).
    pub(crate) failure_bp: u64,
    pub(crate) slow_bp: u64,
    pub(crate) slow_nanos: Option<u64>,
    pub(crate) minimum_calls: u64,
    pub(crate) window: WindowConfig,
    pub(crate) wait_nanos: u64,
    pub(crate) half_open_calls: u32,
    pub(crate) half_open_max_nanos: u64,
    pub(crate) automatic_transition: bool,
}

impl BreakerConfig {
    /// Checks every value and reports the first one out of range.
    ///
    /// # Errors
    ///
    /// A [`BreakerConfigError`] naming the key and the allowed range.
    pub fn validate(&self) -> Result<(), BreakerConfigError> {
        self.settings().map(|_| ())
    }

    pub(crate) fn settings(&self) -> Result<Settings, BreakerConfigError> {
        let failure_bp = percent("failure_rate_threshold", self.failure_rate_threshold)?;
        let slow_bp = percent("slow_call_rate_threshold", self.slow_call_rate_threshold)?;
        let max = match self.window.kind {
            WindowKind::Count => MAX_COUNT_WINDOW,
            WindowKind::Time => MAX_TIME_WINDOW,
        };
        if self.window.size == 0 || self.window.size > max {
            return Err(BreakerConfigError::WindowSize {
                size: self.window.size,
                max,
            });
        }
        if self.minimum_calls == 0 {
            return Err(BreakerConfigError::MinimumCalls);
        }
        if self.half_open_calls == 0 || self.half_open_calls > MAX_HALF_OPEN_CALLS {
            return Err(BreakerConfigError::HalfOpenCalls(self.half_open_calls));
        }
        if self.wait_in_open.is_zero() {
            return Err(BreakerConfigError::WaitInOpen);
        }
        if self.max_wait_in_half_open.is_zero() {
            return Err(BreakerConfigError::MaxWaitInHalfOpen);
        }
        let minimum_calls = match self.window.kind {
            WindowKind::Count => self.minimum_calls.min(self.window.size),
            WindowKind::Time => self.minimum_calls,
        };
        Ok(Settings {
            start_disabled: !self.enabled,
            failure_bp,
            slow_bp,
            slow_nanos: self
                .slow_call_duration
                .filter(|d| !d.is_zero())
                .map(super::clock::saturating_nanos),
            minimum_calls: u64::from(minimum_calls),
            window: self.window,
            wait_nanos: super::clock::saturating_nanos(self.wait_in_open),
            half_open_calls: self.half_open_calls,
            half_open_max_nanos: super::clock::saturating_nanos(self.max_wait_in_half_open),
            automatic_transition: self.automatic_transition,
        })
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn percent(key: &'static str, value: f32) -> Result<u64, BreakerConfigError> {
    if value.is_nan() || value <= 0.0 || value > 100.0 {
        return Err(BreakerConfigError::Threshold { key, value });
    }
    Ok((f64::from(value) * 100.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_resilience4j_where_sensible() {
        let s = BreakerConfig::default().settings().expect("valid defaults");
        assert_eq!(s.failure_bp, 5000);
        assert_eq!(s.slow_bp, 10_000);
        assert_eq!(s.slow_nanos, Some(60_000_000_000));
        assert_eq!(s.minimum_calls, 20);
        assert_eq!(s.half_open_calls, 10);
        assert!(!s.start_disabled);
    }

    #[test]
    fn deserializes_from_toml_with_human_durations() {
        let cfg: BreakerConfig = toml::from_str(
            r#"
            failure_rate_threshold = 25.5
            slow_call_duration = "250ms"
            wait_in_open = "1m"
            window = { kind = "time", size = 10 }
            "#,
        )
        .expect("valid toml");
        assert!((cfg.failure_rate_threshold - 25.5).abs() < f32::EPSILON);
        assert_eq!(cfg.slow_call_duration, Some(Duration::from_millis(250)));
        assert_eq!(cfg.wait_in_open, Duration::from_secs(60));
        assert_eq!(cfg.window.kind, WindowKind::Time);
        assert_eq!(cfg.half_open_calls, 10, "unset keys keep defaults");
        assert_eq!(cfg.settings().expect("valid").failure_bp, 2550);
    }

    #[test]
    fn empty_slow_call_duration_turns_detection_off() {
        let cfg: BreakerConfig = toml::from_str(r#"slow_call_duration = """#).expect("valid");
        assert_eq!(cfg.settings().expect("valid").slow_nanos, None);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<BreakerConfig>("failure_rate = 10").expect_err("unknown key");
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        let bad = |f: fn(&mut BreakerConfig)| {
            let mut c = BreakerConfig::default();
            f(&mut c);
            c.validate().expect_err("invalid").to_string()
        };
        assert!(bad(|c| c.failure_rate_threshold = 0.0).contains("failure_rate_threshold"));
        assert!(bad(|c| c.slow_call_rate_threshold = 100.5).contains("slow_call_rate_threshold"));
        assert!(bad(|c| c.failure_rate_threshold = f32::NAN).contains("failure_rate_threshold"));
        assert!(bad(|c| c.window.size = 0).contains("window.size"));
        assert!(
            bad(|c| {
                c.window = WindowConfig {
                    kind: WindowKind::Time,
                    size: 7200,
                };
            })
            .contains("3600")
        );
        assert!(bad(|c| c.minimum_calls = 0).contains("minimum_calls"));
        assert!(bad(|c| c.half_open_calls = 0).contains("half_open_calls"));
        assert!(bad(|c| c.wait_in_open = Duration::ZERO).contains("wait_in_open"));
        assert!(
            bad(|c| c.max_wait_in_half_open = Duration::ZERO).contains("max_wait_in_half_open")
        );
    }

    #[test]
    fn minimum_calls_is_capped_by_a_count_window() {
        let cfg = BreakerConfig {
            minimum_calls: 500,
            ..BreakerConfig::default()
        };
        assert_eq!(cfg.settings().expect("valid").minimum_calls, 100);
    }
}
