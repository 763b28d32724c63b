//! A client's resilience stack, swapped whole when its configuration changes.
//!
//! Each call reads the stack in force once (a lock-free `arc-swap` load) and keeps it to
//! its end, so a reconfiguration never touches a call in flight: the calls that started
//! before finish with the old timeouts and retries, the next ones take the new. What holds
//! state is carried over, not rebuilt: the client's breaker (retuned in place, its state and
//! window kept, unless its window changed), the endpoints and their breakers, the
//! connections, the retry budget (unless `retry.budget_*` changed) and the bulkhead (unless
//! `bulkhead` changed).

use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use axum::body::Body;
use http::{Request, Response};
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceBuilder, ServiceExt};

use super::ClientBuildError;
use super::balance::Balancer;
use super::error::ClientRetries;
use crate::resilience::breaker::{BreakerConfigError, CircuitBreaker, State};
use crate::resilience::bulkhead::BulkheadLayer;
use crate::resilience::config::{ClientResilienceConfig, RetryConfig};
use crate::resilience::deadline::PropagateDeadlineLayer;
use crate::resilience::retry::RetryLayer;
use crate::resilience::timeout::TimeoutLayer;

/// The boxed stack a call goes through.
pub(crate) type Stack = BoxCloneSyncService<Request<Body>, Response<Body>, BoxError>;

/// The stack in force and what the next one is built from.
#[derive(Debug)]
pub(crate) struct LiveStack {
    name: Arc<str>,
    stack: ArcSwap<Stack>,
    breaker: ArcSwap<CircuitBreaker>,
    parts: Mutex<Parts>,
}

/// The stateful parts a new stack reuses.
#[derive(Debug)]
struct Parts {
    config: ClientResilienceConfig,
    retry: RetryLayer<ClientRetries>,
    bulkhead: Option<BulkheadLayer>,
    balancer: Balancer,
}

impl LiveStack {
    /// The stack of `config` over `balancer`.
    pub(crate) fn new(
        name: &str,
        config: &ClientResilienceConfig,
        balancer: Balancer,
    ) -> Result<Self, ClientBuildError> {
        let breaker = CircuitBreaker::new(name, &config.breaker)?;
        let retry = retry_layer(name, &config.retry, None)?;
        let bulkhead = config
            .bulkhead
            .as_ref()
            .map(|bulkhead| BulkheadLayer::from_config(name, bulkhead));
        let parts = Parts {
            config: config.clone(),
            retry,
            bulkhead,
            balancer,
        };
        let stack = parts.stack(&breaker);
        Ok(Self {
            name: Arc::from(name),
            stack: ArcSwap::from_pointee(stack),
            breaker: ArcSwap::from_pointee(breaker),
            parts: Mutex::new(parts),
        })
    }

    /// The stack for one call.
    #[inline]
    pub(crate) fn stack(&self) -> Stack {
        Stack::clone(&self.stack.load())
    }

    /// The client's breaker now.
    pub(crate) fn breaker(&self) -> CircuitBreaker {
        CircuitBreaker::clone(&self.breaker.load())
    }

    /// The configuration in force.
    pub(crate) fn config(&self) -> ClientResilienceConfig {
        self.lock().config.clone()
    }

    /// Takes `config`'s timeouts, retries, breaker and bulkhead for the calls that start
    /// from now on (its `url`, `tls` and `http2` are not read: they need a new client).
    ///
    /// # Errors
    ///
    /// When `config` is out of range; nothing changes then.
    pub(crate) fn reconfigure(
        &self,
        config: &ClientResilienceConfig,
    ) -> Result<(), ClientBuildError> {
        config.validate()?;
        let mut parts = self.lock();
        let retry = if same_budget(&parts.config.retry, &config.retry) {
            retry_layer(&self.name, &config.retry, Some(&parts.retry))?
        } else {
            retry_layer(&self.name, &config.retry, None)?
        };
        let breaker = self.next_breaker(&parts.config, config)?;
        if parts.config.bulkhead != config.bulkhead {
            parts.bulkhead = config
                .bulkhead
                .as_ref()
                .map(|bulkhead| BulkheadLayer::from_config(&*self.name, bulkhead));
        }
        parts.retry = retry;
        parts.config = config.clone();
        let stack = parts.stack(&breaker);
        self.breaker.store(Arc::new(breaker));
        self.stack.store(Arc::new(stack));
        Ok(())
    }

    /// The breaker retuned in place, or a new one when the window changed (an operator's
    /// forced state carried over to it).
    fn next_breaker(
        &self,
        old: &ClientResilienceConfig,
        new: &ClientResilienceConfig,
    ) -> Result<CircuitBreaker, BreakerConfigError> {
        let current = self.breaker();
        match current.reconfigure(&new.breaker) {
            Ok(()) => Ok(current),
            Err(BreakerConfigError::WindowChanged) => {
                let next = CircuitBreaker::new(&*self.name, &new.breaker)?;
                match current.state() {
                    State::ForcedOpen => {
                        next.force_open();
                    }
                    State::Disabled if old.breaker.enabled && new.breaker.enabled => {
                        next.disable();
                    }
                    _ => {}
                }
                tracing::info!(
                    client = %self.name,
                    "breaker window changed: the client's breaker starts a new window"
                );
                Ok(next)
            }
            Err(error) => Err(error),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Parts> {
        self.parts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Parts {
    /// From the outside in: the breaker (a retried or timed-out call counts once, as
    /// Resilience4j's TimeLimiter inside its CircuitBreaker), the overall timeout, retries,
    /// the per-attempt timeout, deadline propagation, the bulkhead, the balancer.
    fn stack(&self, breaker: &CircuitBreaker) -> Stack {
        let config = &self.config;
        let service = ServiceBuilder::new()
            .layer(breaker.layer())
            .layer(
                config
                    .timeout
                    .map_or(TimeoutLayer::per_call(), TimeoutLayer::overall),
            )
            .layer(self.retry.clone())
            .option_layer(config.attempt_timeout.map(TimeoutLayer::per_attempt))
            .layer(PropagateDeadlineLayer::new())
            .option_layer(self.bulkhead.clone())
            .service(self.balancer.clone())
            .map_err(Into::into);
        BoxCloneSyncService::new(service)
    }
}

/// A retry layer of `config`, sharing `budget_of`'s budget when given.
fn retry_layer(
    name: &str,
    config: &RetryConfig,
    budget_of: Option<&RetryLayer<ClientRetries>>,
) -> Result<RetryLayer<ClientRetries>, ClientBuildError> {
    let builder = RetryLayer::builder(name).config(config.clone());
    let builder = match budget_of {
        Some(layer) => builder.with_budget(layer.budget().clone()),
        None => builder,
    };
    Ok(builder.with_classifier(ClientRetries).build()?)
}

/// Whether two retry settings make the same budget.
fn same_budget(a: &RetryConfig, b: &RetryConfig) -> bool {
    (a.budget_percent, a.budget_min_per_sec, a.budget_ttl)
        == (b.budget_percent, b.budget_min_per_sec, b.budget_ttl)
}
