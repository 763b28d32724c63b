use std::{sync::Arc, time::Duration};

use metrics::Counter;
use tower::Layer;

use super::{DefaultClassifier, Outcome, Retry, RetryBudget, RetryPolicy};
use crate::resilience::config::{InvalidResilienceConfig, RetryConfig};

/// Metric handles of one client, registered once.
#[derive(Debug)]
pub(crate) struct RetryMetrics {
    outcomes: [Counter; Outcome::ALL.len()],
    budget_exhausted: Counter,
}

impl RetryMetrics {
    fn new(client: &str) -> Self {
        Self {
            outcomes: Outcome::ALL.map(|outcome| {
                metrics::counter!(
                    "chassis_retry_attempts_total",
                    "client" => client.to_owned(),
                    "outcome" => outcome.as_str()
                )
            }),
            budget_exhausted: metrics::counter!(
                "chassis_retry_budget_exhausted_total",
                "client" => client.to_owned()
            ),
        }
    }

    pub(crate) fn record(&self, outcome: Outcome) {
        let index = Outcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or_default();
        self.outcomes[index].increment(1);
        if outcome == Outcome::BudgetExhausted {
            self.budget_exhausted.increment(1);
        }
    }
}

/// What every service of one retry layer shares.
#[derive(Debug)]
pub(crate) struct Shared<C> {
    pub(crate) policy: RetryPolicy<C>,
    pub(crate) budget: RetryBudget,
    pub(crate) max_replay_body: u64,
    pub(crate) metrics: RetryMetrics,
}

/// Retries failed HTTP calls; see the [module docs](super). Clones share the budget.
#[derive(Debug)]
#[must_use]
pub struct RetryLayer<C = DefaultClassifier> {
    shared: Arc<Shared<C>>,
}

impl<C> Clone for RetryLayer<C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl RetryLayer {
    /// A builder for client `client` (the metric label), starting from the defaults of
    /// [`RetryConfig`].
    pub fn builder(client: impl Into<String>) -> RetryLayerBuilder {
        RetryLayerBuilder {
            client: client.into(),
            config: RetryConfig::default(),
            budget: None,
            classifier: DefaultClassifier,
        }
    }

    /// A layer from `clients.<name>.retry` settings.
    ///
    /// # Errors
    ///
    /// When a setting is out of range.
    pub fn from_config(
        client: impl Into<String>,
        config: &RetryConfig,
    ) -> Result<Self, InvalidResilienceConfig> {
        Self::builder(client).config(config.clone()).build()
    }
}

impl<C> RetryLayer<C> {
    /// The budget shared by this layer's services.
    pub fn budget(&self) -> &RetryBudget {
        &self.shared.budget
    }
}

impl<S, C> Layer<S> for RetryLayer<C> {
    type Service = Retry<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry::new(inner, Arc::clone(&self.shared))
    }
}

/// Builds a [`RetryLayer`]; setters override the [`RetryConfig`] defaults.
#[derive(Debug, Clone)]
#[must_use]
pub struct RetryLayerBuilder<C = DefaultClassifier> {
    client: String,
    config: RetryConfig,
    budget: Option<RetryBudget>,
    classifier: C,
}

impl<C> RetryLayerBuilder<C> {
    /// Replaces every setting with `config`.
    pub fn config(mut self, config: RetryConfig) -> Self {
        self.config = config;
        self
    }

    /// Attempts per call, the first included (1 disables retries).
    pub const fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.config.max_attempts = max_attempts;
        self
    }

    /// Backoff base and cap.
    pub const fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.config.backoff_base = base;
        self.config.backoff_max = max;
        self
    }

    /// The longest `Retry-After` honoured.
    pub const fn retry_after_max(mut self, max: Duration) -> Self {
        self.config.retry_after_max = max;
        self
    }

    /// The largest request body buffered for replay.
    pub const fn max_replay_body(mut self, bytes: u64) -> Self {
        self.config.max_replay_body = bytes;
        self
    }

    /// Time an attempt needs at least, for the deadline check.
    pub const fn min_attempt_time(mut self, time: Duration) -> Self {
        self.config.min_attempt_time = time;
        self
    }

    /// Shares an existing budget (for example across layers of one client) instead of
    /// building one from the `budget_*` settings.
    pub fn with_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Swaps the failure classifier.
    pub fn with_classifier<D>(self, classifier: D) -> RetryLayerBuilder<D> {
        RetryLayerBuilder {
            client: self.client,
            config: self.config,
            budget: self.budget,
            classifier,
        }
    }

    /// The layer; registers its metric handles.
    ///
    /// # Errors
    ///
    /// When a setting is out of range.
    pub fn build(self) -> Result<RetryLayer<C>, InvalidResilienceConfig> {
        let config = &self.config;
        let policy = RetryPolicy::from_config(config)?.with_classifier(self.classifier);
        Ok(RetryLayer {
            shared: Arc::new(Shared {
                policy,
                budget: self
                    .budget
                    .unwrap_or_else(|| RetryBudget::from_valid(config)),
                max_replay_body: config.max_replay_body,
                metrics: RetryMetrics::new(&self.client),
            }),
        })
    }
}
