//! [`FaultLayer`]: injected latency and errors, for demos, drills and tests.
//!
//! Configured by the `faults` section (only when `faults.enabled`), changed at run time
//! through a [`FaultsHandle`] (`ServiceHandle::faults`, or `PUT /admin/faults` on the admin
//! port, behind the admin token), and applied to the service's own routes only, never to
//! health, metrics or info. While no fault is set the layer costs two atomic loads per
//! request; while injection is not enabled it is not there at all.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use http::{Request, StatusCode};
use tower::{Layer, Service};

use super::Problem;
use crate::config::FaultsConfig;

/// Shared, changeable fault settings.
#[derive(Debug, Default)]
struct Faults {
    latency_nanos: AtomicU64,
    /// `f64` bits of the error share.
    error_rate_bits: AtomicU64,
}

/// Changes the injected faults of a running service.
#[derive(Debug, Clone, Default)]
pub struct FaultsHandle {
    faults: Arc<Faults>,
}

impl FaultsHandle {
    /// Handle with the faults of `config`.
    pub fn new(config: &FaultsConfig) -> Self {
        let handle = Self::default();
        handle.set(config);
        handle
    }

    /// Replaces the faults (a zero latency and a zero rate turn them off).
    pub fn set(&self, config: &FaultsConfig) {
        let latency = config.latency.unwrap_or_default();
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.faults.latency_nanos.store(nanos, Ordering::Relaxed);
        let rate = config.error_rate.clamp(0.0, 1.0);
        self.faults
            .error_rate_bits
            .store(rate.to_bits(), Ordering::Relaxed);
    }

    /// The faults now.
    pub fn get(&self) -> FaultsConfig {
        let (latency, error_rate) = self.read();
        FaultsConfig {
            enabled: true,
            latency: (!latency.is_zero()).then_some(latency),
            error_rate,
        }
    }

    /// A layer injecting this handle's faults.
    pub fn layer(&self) -> FaultLayer {
        FaultLayer {
            faults: Arc::clone(&self.faults),
        }
    }

    fn read(&self) -> (Duration, f64) {
        read(&self.faults)
    }
}

fn read(faults: &Faults) -> (Duration, f64) {
    let latency = Duration::from_nanos(faults.latency_nanos.load(Ordering::Relaxed));
    let rate = f64::from_bits(faults.error_rate_bits.load(Ordering::Relaxed));
    (latency, rate)
}

/// Adds `latency` before each request and answers a share `error_rate` of them with `503`.
#[derive(Debug, Clone)]
pub struct FaultLayer {
    faults: Arc<Faults>,
}

impl FaultLayer {
    /// A layer injecting the configured faults (use [`FaultsHandle::layer`] to change them
    /// later).
    pub fn new(config: &FaultsConfig) -> Self {
        FaultsHandle::new(config).layer()
    }
}

impl<S> Layer<S> for FaultLayer {
    type Service = FaultInjection<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FaultInjection {
            inner,
            faults: Arc::clone(&self.faults),
        }
    }
}

/// The service of [`FaultLayer`].
#[derive(Debug, Clone)]
pub struct FaultInjection<S> {
    inner: S,
    faults: Arc<Faults>,
}

type Injected<E> = Pin<Box<dyn Future<Output = Result<Response<Body>, E>> + Send>>;

impl<S, B> Service<Request<B>> for FaultInjection<S>
where
    S: Service<Request<B>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<S::Future, Injected<S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (latency, error_rate) = read(&self.faults);
        if latency.is_zero() && error_rate <= 0.0 {
            return Either::Left(self.inner.call(request));
        }
        // The ready service goes into the future; a fresh clone stays for the next call.
        let fresh = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, fresh);
        Either::Right(Box::pin(async move {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            if error_rate > 0.0 && fastrand::f64() < error_rate {
                return Ok(Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                    .detail("fault injected (faults.error_rate)")
                    .into_response());
            }
            ready.call(request).await
        }))
    }
}
