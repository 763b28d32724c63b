//! [`FaultLayer`]: injected latency and errors, for demos, drills and tests.
//!
//! Configured by the `faults` section and applied to the service's own routes only, never
//! to health, metrics or info. Off unless configured.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode};
use tower::{Layer, Service};

use super::Problem;
use crate::config::FaultsConfig;

/// Adds `latency` before each request and answers a share `error_rate` of them with `503`.
#[derive(Debug, Clone)]
pub struct FaultLayer {
    faults: Arc<Faults>,
}

#[derive(Debug)]
struct Faults {
    latency: Option<Duration>,
    error_rate: f64,
}

impl FaultLayer {
    /// A layer injecting the configured faults.
    pub fn new(config: &FaultsConfig) -> Self {
        Self {
            faults: Arc::new(Faults {
                latency: config.latency.filter(|d| !d.is_zero()),
                error_rate: config.error_rate.clamp(0.0, 1.0),
            }),
        }
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

impl<S, B> Service<Request<B>> for FaultInjection<S>
where
    S: Service<Request<B>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        // Readiness is taken after the injected delay, on a clone.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let faults = Arc::clone(&self.faults);
        let inner = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, inner);
        Box::pin(async move {
            if let Some(latency) = faults.latency {
                tokio::time::sleep(latency).await;
            }
            if faults.error_rate > 0.0 && fastrand::f64() < faults.error_rate {
                return Ok(Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                    .detail("fault injected by configuration (faults.error_rate)")
                    .into_response());
            }
            tower::ServiceExt::oneshot(inner, request).await
        })
    }
}
