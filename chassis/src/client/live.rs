//! A client's resilience stack, swapped whole when its configuration changes; shared by the
//! HTTP client and the gRPC channel, which differ only in their innermost balancer, their
//! retry classifier and where their breaker judges a call.
//!
//! Each call reads the stack in force once (a lock-free `arc-swap` load) and keeps it to
//! its end, so a reconfiguration never touches a call in flight: the calls that started
//! before finish with the old timeouts and retries, the next ones take the new. What holds
//! state is carried over, not rebuilt: the client's breaker (retuned in place, its state and
//! window kept, unless its window changed), the endpoints and their breakers, the
//! connections, the retry budget (unless `retry.budget_*` changed) and the bulkhead (unless
//! `bulkhead` changed).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::{ArcSwap, Guard};
use axum::body::Body;
use http::{Request, Response};
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

use super::ClientBuildError;
use super::balance::OutBody;
use crate::resilience::breaker::{BreakerConfigError, CircuitBreaker, State};
use crate::resilience::bulkhead::BulkheadLayer;
use crate::resilience::config::{ClientResilienceConfig, RetryConfig};
use crate::resilience::deadline::PropagateDeadlineLayer;
use crate::resilience::retry::{RetryClassifier, RetryLayer};
use crate::resilience::timeout::TimeoutLayer;

/// The boxed stack a call goes through.
pub(crate) type Stack = BoxCloneSyncService<Request<Body>, Response<Body>, BoxError>;

/// Where the client-wide breaker judges a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Judge {
    /// The breaker is the stack's outermost layer and judges the response (HTTP).
    InStack,
    /// The caller takes the breaker's permit and judges the call itself (gRPC: the status
    /// may come only in the trailers, at the end of the response stream).
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    ByCaller,
}

/// What one call reads, in one load: the stack in force, the breaker and the overall
/// timeout it was built with.
#[derive(Debug)]
pub(crate) struct InForce {
    /// The stack (the breaker inside it with [`Judge::InStack`]).
    pub(crate) stack: Stack,
    /// The client's breaker.
    pub(crate) breaker: CircuitBreaker,
    /// `clients.<name>.timeout`.
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub(crate) timeout: Option<Duration>,
}

/// The stack in force and what the next one is built from, over the innermost balancer `B`
/// with the retry classifier `R`.
#[derive(Debug)]
pub(crate) struct LiveStack<B, R> {
    name: Arc<str>,
    current: ArcSwap<InForce>,
    parts: Mutex<Parts<B, R>>,
}

/// The stateful parts a new stack reuses.
#[derive(Debug)]
struct Parts<B, R> {
    config: ClientResilienceConfig,
    classifier: R,
    retry: RetryLayer<R>,
    bulkhead: Option<BulkheadLayer>,
    balancer: B,
    judge: Judge,
}

impl<B, R> LiveStack<B, R>
where
    B: Service<Request<OutBody>, Response = Response<Body>, Error = BoxError>
        + Clone
        + Send
        + Sync
        + 'static,
    B::Future: Send + 'static,
    R: RetryClassifier + Clone + Send + Sync + 'static,
{
    /// The stack of `config` over `balancer`, retrying what `classifier` says, its breaker,
    /// retries and bulkhead named `name` (the metric label).
    pub(crate) fn new(
        name: &str,
        config: &ClientResilienceConfig,
        balancer: B,
        classifier: R,
        judge: Judge,
    ) -> Result<Self, ClientBuildError> {
        let breaker = CircuitBreaker::new(name, &config.breaker)?;
        let retry = retry_layer(name, &config.retry, classifier.clone(), None)?;
        let bulkhead = config
            .bulkhead
            .as_ref()
            .map(|bulkhead| BulkheadLayer::from_config(name, bulkhead));
        let parts = Parts {
            config: config.clone(),
            classifier,
            retry,
            bulkhead,
            balancer,
            judge,
        };
        let current = parts.in_force(breaker);
        Ok(Self {
            name: Arc::from(name),
            current: ArcSwap::from_pointee(current),
            parts: Mutex::new(parts),
        })
    }

    /// What one call uses; take what it needs and let the guard go before awaiting.
    #[inline]
    pub(crate) fn now(&self) -> Guard<Arc<InForce>> {
        self.current.load()
    }

    /// The stack for one call.
    #[inline]
    pub(crate) fn stack(&self) -> Stack {
        Stack::clone(&self.now().stack)
    }

    /// The client's breaker now.
    pub(crate) fn breaker(&self) -> CircuitBreaker {
        CircuitBreaker::clone(&self.now().breaker)
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
        let classifier = parts.classifier.clone();
        let retry = if same_budget(&parts.config.retry, &config.retry) {
            retry_layer(&self.name, &config.retry, classifier, Some(&parts.retry))?
        } else {
            retry_layer(&self.name, &config.retry, classifier, None)?
        };
        let breaker = self.next_breaker(config)?;
        if parts.config.bulkhead != config.bulkhead {
            parts.bulkhead = config
                .bulkhead
                .as_ref()
                .map(|bulkhead| BulkheadLayer::from_config(&*self.name, bulkhead));
        }
        parts.retry = retry;
        parts.config = config.clone();
        self.current.store(Arc::new(parts.in_force(breaker)));
        Ok(())
    }

    /// The breaker retuned in place, or a new one when the window changed (an operator's
    /// forced open or disabled state carried over to it).
    fn next_breaker(
        &self,
        new: &ClientResilienceConfig,
    ) -> Result<CircuitBreaker, BreakerConfigError> {
        let current = self.breaker();
        match current.reconfigure(&new.breaker) {
            Ok(()) => Ok(current),
            Err(BreakerConfigError::WindowChanged) => {
                let next = CircuitBreaker::new(&*self.name, &new.breaker)?;
                if current.overridden() {
                    match current.state() {
                        State::ForcedOpen => {
                            next.force_open();
                        }
                        State::Disabled => {
                            next.disable();
                        }
                        _ => {}
                    }
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Parts<B, R>> {
        self.parts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<B, R> Parts<B, R>
where
    B: Service<Request<OutBody>, Response = Response<Body>, Error = BoxError>
        + Clone
        + Send
        + Sync
        + 'static,
    B::Future: Send + 'static,
    R: RetryClassifier + Clone + Send + Sync + 'static,
{
    /// From the outside in: the breaker (a retried or timed-out call counts once, as
    /// Resilience4j's TimeLimiter inside its CircuitBreaker; left to the caller with
    /// [`Judge::ByCaller`]), the overall timeout, retries, the per-attempt timeout, deadline
    /// propagation, the bulkhead, the balancer.
    fn in_force(&self, breaker: CircuitBreaker) -> InForce {
        let config = &self.config;
        let service = ServiceBuilder::new()
            .option_layer((self.judge == Judge::InStack).then(|| breaker.layer()))
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
        InForce {
            stack: BoxCloneSyncService::new(service),
            breaker,
            timeout: config.timeout,
        }
    }
}

/// A retry layer of `config` with `classifier`, sharing `budget_of`'s budget when given.
fn retry_layer<R>(
    name: &str,
    config: &RetryConfig,
    classifier: R,
    budget_of: Option<&RetryLayer<R>>,
) -> Result<RetryLayer<R>, ClientBuildError> {
    let builder = RetryLayer::builder(name).config(config.clone());
    let builder = match budget_of {
        Some(layer) => builder.with_budget(layer.budget().clone()),
        None => builder,
    };
    Ok(builder.with_classifier(classifier).build()?)
}

/// Whether two retry settings make the same budget.
fn same_budget(a: &RetryConfig, b: &RetryConfig) -> bool {
    (a.budget_percent, a.budget_min_per_sec, a.budget_ttl)
        == (b.budget_percent, b.budget_min_per_sec, b.budget_ttl)
}
