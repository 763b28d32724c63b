//! The retry budget, shared by every clone of a client.

use std::{fmt, sync::Arc, time::Duration};

use tower::retry::budget::{Budget, TpsBudget};

use crate::resilience::config::{InvalidResilienceConfig, RetryConfig};

/// A retry budget: retries may add at most `percent` % of the original requests seen in the
/// last `ttl`, plus `min_per_sec` retries per second. Cheap to clone; clones share the
/// balance.
///
/// Backed by tower's [`TpsBudget`] (after Finagle's `RetryBudget`): every original request
/// deposits, every retry withdraws, and deposits expire after `ttl`. Per-attempt limits
/// bound one call; only a budget bounds what retries do to a struggling dependency when
/// *every* call fails, turning a 3x retry storm into at most +20 % load.
///
/// ```
/// use std::time::Duration;
/// use chassis::resilience::retry::RetryBudget;
///
/// let budget = RetryBudget::new(Duration::from_secs(10), 0, 20)?;
/// for _ in 0..10 {
///     budget.deposit();
/// }
/// assert!(budget.withdraw());
/// assert!(budget.withdraw());
/// assert!(!budget.withdraw());
/// # Ok::<(), chassis::resilience::config::InvalidResilienceConfig>(())
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    inner: Arc<TpsBudget>,
}

impl RetryBudget {
    /// A budget of `percent` % of original requests over `ttl` (1s..=60s), with a floor of
    /// `min_per_sec` retries per second.
    ///
    /// # Errors
    ///
    /// When a value is out of range (see [`RetryConfig::validate`]).
    pub fn new(
        ttl: Duration,
        min_per_sec: u32,
        percent: u32,
    ) -> Result<Self, InvalidResilienceConfig> {
        let config = RetryConfig {
            budget_ttl: ttl,
            budget_min_per_sec: min_per_sec,
            budget_percent: percent,
            ..RetryConfig::default()
        };
        config.validate()?;
        Ok(Self::from_valid(&config))
    }

    /// The budget of a validated config.
    pub(crate) fn from_valid(config: &RetryConfig) -> Self {
        #[allow(clippy::cast_precision_loss)] // at most 1000
        let share = config.budget_percent as f32 / 100.0;
        Self {
            inner: Arc::new(TpsBudget::new(
                config.budget_ttl,
                config.budget_min_per_sec,
                share,
            )),
        }
    }

    /// Records an original request.
    pub fn deposit(&self) {
        self.inner.deposit();
    }

    /// Takes the right to one retry; `false` when the budget is spent.
    pub fn withdraw(&self) -> bool {
        self.inner.withdraw()
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self::from_valid(&RetryConfig::default())
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RetryBudget").field(&self.inner).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_of_deposits_without_floor() {
        let budget = RetryBudget::new(Duration::from_secs(10), 0, 20).expect("valid");
        for _ in 0..100 {
            budget.deposit();
        }
        let granted = (0..100).filter(|_| budget.withdraw()).count();
        assert_eq!(granted, 20);
    }

    #[test]
    fn clones_share_the_balance() {
        let budget = RetryBudget::new(Duration::from_secs(10), 0, 100).expect("valid");
        let clone = budget.clone();
        budget.deposit();
        assert!(clone.withdraw());
        assert!(!budget.withdraw());
    }

    #[test]
    fn out_of_range_is_an_error_not_a_panic() {
        let err = RetryBudget::new(Duration::from_millis(10), 0, 2000).expect_err("invalid");
        assert_eq!(err.problems().len(), 2);
    }
}
