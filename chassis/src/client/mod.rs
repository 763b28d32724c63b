//! The resilient HTTP client: discovery, balancing, resilience and propagation in one call.
//!
//! ```no_run
//! # async fn demo(ctx: chassis::service::Context<()>) -> Result<(), Box<dyn std::error::Error>> {
//! let catalog = ctx.client("catalog")?;
//! let response = catalog.get("/items/{id}", "/items/espresso").await?;
//! assert!(response.status().is_success());
//! # Ok(()) }
//! ```
//!
//! A call goes, from the outside in, through: the client's circuit breaker (`breaker.*`; a
//! retried or timed-out call counts once); the overall timeout (`clients.<name>.timeout`);
//! retries with backoff and a budget (`retry.*`); the per-attempt timeout (`attempt_timeout`); deadline propagation (what
//! is left of the inbound request's `x-request-timeout-ms`, failing fast when spent);
//! trace-context and request-id propagation; the bulkhead (`bulkhead.*`); and
//! power-of-two-choices balancing over the live endpoint set with a breaker per endpoint
//! (outlier ejection, `outlier.*`), on pooled keep-alive HTTP/1.1 connections, or one
//! multiplexed HTTP/2 connection per endpoint with `http2 = true` (prior knowledge; chassis
//! servers accept it).
//!
//! Each call records `http_client_request_duration_seconds{http_request_method, http_route,
//! http_response_status_code, server_address}`, where `http_route` is the route template the
//! caller names (never the raw path) and `server_address` the service name.

mod balance;
mod ejections;
mod error;
mod outcomes;
mod series;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Method, Request, Response, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceBuilder, ServiceExt};

use self::balance::{Balancer, Endpoints};
pub use self::error::{ClientError, ClientErrorKind, NoEndpoint};
use self::outcomes::OutcomeCounters;
use self::series::{ClientSeries, Series};
use crate::discovery::{DiscoveryError, Endpoints as Discovered};
use crate::resilience::blame::{Cause, Verdict};
use crate::resilience::breaker::{BreakerConfigError, CircuitBreaker, State};
use crate::resilience::bulkhead::BulkheadLayer;
use crate::resilience::config::{ClientResilienceConfig, InvalidResilienceConfig};
use crate::resilience::deadline::PropagateDeadlineLayer;
use crate::resilience::retry::RetryLayer;
use crate::resilience::timeout::TimeoutLayer;
use crate::telemetry::propagation::PropagateLayer;

/// How long connecting to an endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long an idle pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// Building a client failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientBuildError {
    /// `clients.<name>` has values out of range.
    #[error(transparent)]
    Config(#[from] InvalidResilienceConfig),
    /// `clients.<name>.breaker` is invalid.
    #[error(transparent)]
    Breaker(#[from] BreakerConfigError),
    /// Discovery cannot follow the service.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
}

/// A resilient HTTP client for one service; cheap to clone, share it.
#[derive(Debug, Clone)]
pub struct HttpClient {
    name: Arc<str>,
    series: Arc<ClientSeries>,
    outcomes: Arc<OutcomeCounters>,
    service: BoxCloneSyncService<Request<Body>, Response<Body>, BoxError>,
    breaker: CircuitBreaker,
    endpoints: Arc<Endpoints>,
}

impl HttpClient {
    /// A client for `name` with `config`, balancing over the live endpoint set `endpoints`
    /// (from [`Registry::discover`](crate::discovery::Registry::discover), or
    /// [`Endpoints::fixed`](crate::discovery::Endpoints::fixed)).
    ///
    /// # Errors
    ///
    /// When the configuration is out of range.
    pub fn new(
        name: &str,
        config: &ClientResilienceConfig,
        endpoints: Discovered,
    ) -> Result<Self, ClientBuildError> {
        config.validate()?;
        let breaker = CircuitBreaker::new(name, &config.breaker)?;
        let endpoints = Endpoints::follow(name, config.outlier.clone(), endpoints);
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .http2_only(config.http2)
            .build(connector);
        // The breaker sits outside the overall timeout, so a call that times out counts as a
        // failure (Resilience4j's TimeLimiter inside its CircuitBreaker).
        let service = ServiceBuilder::new()
            .layer(breaker.layer())
            .option_layer(config.timeout.map(TimeoutLayer::overall))
            .layer(RetryLayer::from_config(name, &config.retry)?)
            .option_layer(config.attempt_timeout.map(TimeoutLayer::per_attempt))
            .layer(PropagateDeadlineLayer::new())
            .layer(PropagateLayer::new())
            .option_layer(
                config
                    .bulkhead
                    .as_ref()
                    .map(|bulkhead| BulkheadLayer::from_config(name, bulkhead)),
            )
            .service(Balancer::new(Arc::clone(&endpoints), http))
            .map_err(Into::into);
        let name: Arc<str> = Arc::from(name);
        Ok(Self {
            series: Arc::new(ClientSeries::new(Arc::clone(&name))),
            outcomes: Arc::new(OutcomeCounters::new(&name, "call")),
            name,
            service: BoxCloneSyncService::new(service),
            breaker,
            endpoints,
        })
    }

    /// The service this client calls.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client-wide circuit breaker (state, forced states).
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// The endpoints (`host:port`) the client balances over now.
    pub fn endpoints(&self) -> Vec<String> {
        self.endpoints
            .snapshot()
            .iter()
            .map(|e| e.authority().to_owned())
            .collect()
    }

    /// Each endpoint (`host:port`) with the state of its breaker (outlier ejection): an
    /// endpoint is ejected while its breaker is open.
    pub fn endpoint_states(&self) -> Vec<(String, State)> {
        self.endpoints
            .snapshot()
            .iter()
            .map(|e| (e.authority().to_owned(), e.breaker_state()))
            .collect()
    }

    /// Sends `request` (its URI is a path such as `/items/1`; the client picks the endpoint).
    /// `route` is the route template for metrics, such as `/items/{id}`.
    ///
    /// # Errors
    ///
    /// A [`ClientError`] whose [`kind`](ClientError::kind) tells a breaker refusal, a
    /// timeout, a spent deadline, a full bulkhead, no endpoint, or a transport failure. An
    /// HTTP error status is a response, not an error.
    pub async fn send(
        &self,
        route: &'static str,
        request: Request<Body>,
    ) -> Result<Response<Body>, ClientError> {
        let method = method_label(request.method());
        let start = Instant::now();
        let mut call = CallWatch::new(&self.outcomes);
        let result = self.service.clone().oneshot(request).await;
        call.ended(match &result {
            Ok(response) => Verdict::of_status(response.status()),
            Err(error) => Verdict::of_error(error.as_ref()),
        });
        let result = result.map_err(|error| ClientError::new(&self.name, error));
        // OpenTelemetry: a failed call has no status code but an `error.type`.
        let (status, error_type) = match &result {
            Ok(response) => (response.status().as_u16(), ""),
            Err(error) => (0, error.kind().as_str()),
        };
        let series = Series {
            method,
            route,
            status,
            error_type,
        };
        self.series.record(series, start.elapsed().as_secs_f64());
        result
    }

    /// `GET path`, measured under `route`.
    ///
    /// # Errors
    ///
    /// As [`HttpClient::send`].
    pub async fn get(
        &self,
        route: &'static str,
        path: &str,
    ) -> Result<Response<Body>, ClientError> {
        let request = Request::get(path)
            .body(Body::empty())
            .map_err(|e| ClientError::invalid(&self.name, e))?;
        self.send(route, request).await
    }

    /// `POST path` with a JSON body, measured under `route`.
    ///
    /// # Errors
    ///
    /// As [`HttpClient::send`]; [`ClientErrorKind::InvalidRequest`] when `body` does not
    /// serialize.
    pub async fn post_json<T: serde::Serialize + ?Sized>(
        &self,
        route: &'static str,
        path: &str,
        body: &T,
    ) -> Result<Response<Body>, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::invalid(&self.name, e))?;
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(bytes))
            .map_err(|e| ClientError::invalid(&self.name, e))?;
        self.send(route, request).await
    }
}

/// Counts a call's verdict when it ends, and `cancelled` when the caller drops it first.
struct CallWatch<'a> {
    outcomes: &'a OutcomeCounters,
    ended: bool,
}

impl<'a> CallWatch<'a> {
    fn new(outcomes: &'a OutcomeCounters) -> Self {
        Self {
            outcomes,
            ended: false,
        }
    }

    fn ended(&mut self, verdict: Verdict) {
        self.ended = true;
        self.outcomes.record(verdict);
    }
}

impl Drop for CallWatch<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.outcomes.record(Verdict::NotCharged(Cause::Cancelled));
        }
    }
}

/// The method label: standard methods as themselves, anything else `_OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "_OTHER",
    }
}
