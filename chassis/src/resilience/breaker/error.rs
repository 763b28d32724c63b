//! The breaker's errors: the rejection leaf and the configuration error.

use std::fmt;
use std::time::Duration;

use super::State;

/// A call was rejected because the circuit breaker is open (or forced open, or out of trial
/// calls in half-open). A tiny leaf error; the layer returns it boxed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerOpen {
    state: State,
    opens_in: Option<Duration>,
}

impl BreakerOpen {
    pub(crate) fn new(state: State, opens_in: Option<Duration>) -> Self {
        Self { state, opens_in }
    }

    /// The state the breaker was in when it rejected the call.
    pub fn state(&self) -> State {
        self.state
    }

    /// When the breaker was open: how long until it lets trial calls through (half-open).
    /// `None` when it was forced open or half-open with no trial call left.
    pub fn trial_in(&self) -> Option<Duration> {
        self.opens_in
    }
}

impl fmt::Display for BreakerOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "circuit breaker is {}", self.state)
    }
}

impl std::error::Error for BreakerOpen {}

impl BreakerConfigError {
    /// The key of the offending value below `section` (`breaker.window.size`), or the
    /// section itself when no one key is at fault.
    pub(crate) fn key_under(&self, section: &str) -> String {
        let key = match self {
            Self::Threshold { key, .. } => key,
            Self::WindowSize { .. } => "window.size",
            Self::MinimumCalls => "minimum_calls",
            Self::HalfOpenCalls(_) => "half_open_calls",
            Self::MaxWaitInHalfOpen => "max_wait_in_half_open",
            Self::WaitInOpen => "wait_in_open",
            Self::WindowChanged => return section.to_owned(),
        };
        format!("{section}.{key}")
    }
}

/// A breaker configuration value out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BreakerConfigError {
    /// A rate threshold outside `0 < x <= 100`.
    #[error("{key} must be a percentage above 0 and at most 100, got {value}")]
    Threshold {
        /// The configuration key.
        key: &'static str,
        /// The rejected value.
        value: f32,
    },
    /// A window size of zero or above the maximum.
    #[error("window.size must be between 1 and {max}, got {size}")]
    WindowSize {
        /// The rejected size.
        size: u32,
        /// The largest allowed size for this kind of window.
        max: u32,
    },
    /// `minimum_calls` of zero.
    #[error("minimum_calls must be at least 1")]
    MinimumCalls,
    /// `half_open_calls` of zero or above the maximum.
    #[error("half_open_calls must be between 1 and 1000000, got {0}")]
    HalfOpenCalls(u32),
    /// `max_wait_in_half_open` of zero.
    #[error("max_wait_in_half_open must be longer than zero")]
    MaxWaitInHalfOpen,
    /// `wait_in_open` of zero.
    #[error("wait_in_open must be longer than zero")]
    WaitInOpen,
    /// A running breaker was given another window; a new breaker is needed for it.
    #[error("window cannot change while the breaker runs")]
    WindowChanged,
}
