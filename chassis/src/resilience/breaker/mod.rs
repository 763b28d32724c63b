//! A circuit breaker: stop calling a dependency that keeps failing, give it time to recover,
//! then try again carefully.
//!
//! ```
//! use chassis::resilience::breaker::{BreakerConfig, CircuitBreaker, Outcome, State};
//!
//! let config = BreakerConfig { minimum_calls: 4, ..BreakerConfig::default() };
//! let breaker = CircuitBreaker::new("catalog", &config)?;
//! for _ in 0..4 {
//!     let permit = breaker.try_acquire()?; // may I call?
//!     // ... make the call; it failed:
//!     permit.record(Outcome::Failure);
//! }
//! assert_eq!(breaker.state(), State::Open);
//! assert!(breaker.try_acquire().is_err()); // fail fast for `wait_in_open`
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! As a tower layer, around any HTTP client (or, with another [`Classify`], any service):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! use chassis::resilience::breaker::{BreakerConfig, CircuitBreaker, State};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! let breaker = CircuitBreaker::new("catalog", &BreakerConfig::default())?;
//! let client = ServiceBuilder::new()
//!     .layer(breaker.layer())
//!     .service(service_fn(|_: http::Request<()>| async {
//!         Ok::<_, std::io::Error>(http::Response::new(()))
//!     }));
//! let response = client.oneshot(http::Request::new(())).await?;
//! assert_eq!(response.status(), 200);
//! assert_eq!(breaker.metrics().calls, 1);
//! # Ok(()) }
//! ```
//!
//! # Why
//!
//! When a dependency is down or drowning, every call to it waits for a timeout, holds a
//! connection and a task, and adds load to the thing that is already failing. A breaker
//! notices the failure rate, *opens* and rejects calls at once with [`BreakerOpen`] (the
//! caller can fall back or answer 503 quickly), waits, then lets a few trial calls through
//! (*half-open*) to decide whether to *close* again. The behaviour follows Resilience4j's
//! `CircuitBreaker`, the reference users know.
//!
//! # States
//!
//! - **closed**: calls pass; outcomes go into a sliding window. Once the window holds
//!   `minimum_calls`, the breaker opens when the failure rate reaches
//!   `failure_rate_threshold` or the slow-call rate reaches `slow_call_rate_threshold`.
//! - **open**: calls are rejected for `wait_in_open`; the first call after that (or reading
//!   the state, with `automatic_transition`) moves to half-open.
//! - **half-open**: `half_open_calls` trial calls are admitted, others rejected. When all
//!   trials have reported, the same thresholds decide: open again, or closed with a fresh
//!   window. A trial dropped without an outcome gives its slot back.
//! - **forced_open** / **disabled**: operator overrides through the handle
//!   ([`CircuitBreaker::force_open`], [`CircuitBreaker::disable`]) that stay until
//!   [`CircuitBreaker::reset`].
//!
//! Outcomes of calls admitted under an earlier state are ignored: a slow call started while
//! closed cannot decide a half-open trial.
//!
//! # Knobs
//!
//! See [`BreakerConfig`] (`clients.<name>.breaker.*`): the window (`count`: the last N
//! calls, or `time`: the last N seconds), the thresholds, what "slow" means, the minimum
//! number of calls, the wait in open and the number of trials. What counts as a failure is a
//! [`Classify`] strategy: [`HttpClassifier`] by default (errors and 5xx except 501 fail; 4xx
//! are the caller's problem and count as successes), [`ErrorClassifier`] or any closure.
//!
//! # Cost
//!
//! Admission and recording in the closed state are a few atomic operations, no lock and no
//! allocation; transitions take a lock. Slow-call detection and time windows read the clock
//! twice per call; the default [`CoarseClock`] makes that an atomic load (a 1 ms resolution,
//! refreshed by one background thread per process, which parks while no breaker is used, so
//! an idle service costs no CPU). [`MonotonicClock`] is precise at a few
//! nanoseconds per read on bare metal; with `slow_call_duration = ""` and a count window the
//! closed path never reads a clock.
//!
//! Through the tower [`Breaker`], a call's future holds its own handle on the breaker. So that
//! this costs no reference-count traffic per call, a completed call leaves its handle as its
//! thread's spare, and the next call through the same breaker on that thread takes it over.
//! One consequence: a breaker dropped everywhere else lives on in a thread's spare until that
//! thread completes a call through another breaker, or ends.
//!
//! # Observability
//!
//! Every transition logs an `info` event (`breaker`, `from`, `to`), sets the gauge
//! `chassis_breaker_state{client,state}` (1 for the current state, 0 for the others) and
//! increments `chassis_breaker_transitions_total{client,from,to}`; rejections increment
//! `chassis_breaker_rejected_total{client}`. A [`StateListener`] can react to transitions.

mod classify;
mod clock;
mod config;
mod core;
mod error;
mod future;
mod handle;
mod layer;
mod listener;
mod observe;
mod spare;
mod state;
mod tunables;
mod window;

use std::task::{Context, Poll};

use tower::{BoxError, Service};

pub use classify::{Classify, ErrorClassifier, HttpClassifier, Outcome, status_outcome};
pub use clock::{Clock, CoarseClock, ManualClock, MonotonicClock, TokioClock};
pub use config::{BreakerConfig, WindowConfig, WindowKind};
pub use error::{BreakerConfigError, BreakerOpen};
pub use future::ResponseFuture;
pub use handle::{BreakerBuilder, BreakerMetrics, CircuitBreaker, OwnedPermit, Permit};
pub use layer::BreakerLayer;
pub use listener::{StateListener, Transition};
pub use state::State;

/// A service guarded by a [`CircuitBreaker`].
///
/// `poll_ready` is the inner service's: admission happens in `call`, so a rejected call
/// costs nothing downstream and fails with a boxed [`BreakerOpen`]. Cloning the service
/// clones the breaker's handle (one atomic increment), never its state.
#[derive(Debug, Clone)]
#[allow(clippy::struct_field_names)]
pub struct Breaker<S, C = HttpClassifier> {
    inner: S,
    breaker: CircuitBreaker,
    classifier: C,
}

impl<S, C> Breaker<S, C> {
    /// Guards `inner` with `breaker`, judging outcomes with `classifier`.
    pub fn new(inner: S, breaker: CircuitBreaker, classifier: C) -> Self {
        Self {
            inner,
            breaker,
            classifier,
        }
    }

    /// The breaker's handle.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, Req> Service<Req> for Breaker<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        match self.breaker.shared.acquire() {
            Ok(ticket) => {
                let permit = future::CallPermit::new(spare::take(&self.breaker), ticket);
                ResponseFuture::called(self.inner.call(req), permit, self.classifier.clone())
            }
            Err(open) => ResponseFuture::rejected(open),
        }
    }
}
