//! The resilient HTTP client: discovery, balancing, resilience and propagation in one call.
//!
//! ```no_run
//! # async fn demo(ctx: chassis::service::Context<()>) -> Result<(), Box<dyn std::error::Error>> {
//! use chassis::client::Route;
//!
//! #[derive(serde::Deserialize)]
//! struct Item { name: String, price_cents: u64 }
//!
//! let catalog = ctx.client("catalog")?;
//! // A route template with its parameters, percent-encoded: the path and the metric label
//! // (`http_route="/items/{id}"`) cannot disagree, and no value can change the path.
//! let route = Route::new("/items/{id}").param("id", "espresso");
//! let item: Item = catalog.get(route).send().await?.json().await?;
//! # let _ = (item.name, item.price_cents); Ok(()) }
//! ```
//!
//! [`HttpClient::get`] (`post`, `put`, `patch`, `delete`, `request`) gives a
//! [`RequestBuilder`]: headers, a query, a JSON or raw body, a per-call timeout, marking a
//! non-idempotent call retryable or giving it an `Idempotency-Key`. [`RequestBuilder::send`]
//! answers a [`Reply`]: its status and headers, its body read as JSON, text or bytes within a
//! size bound; reading it checks the status first (an error status is a
//! [`ClientErrorKind::Status`] error). A [`ClientError`] answered by a handler becomes a
//! problem response (`502`, `503`, `504`) with the request id and no internal text.
//! `HttpClient` is also a `tower::Service<Request<Body>>` (the route template in the
//! request's [`RouteTemplate`] extension), so a service stacks its own layers in front of it.
//!
//! A call goes, from the outside in, through: the client's circuit breaker (`breaker.*`; a
//! retried or timed-out call counts once); the overall timeout (`clients.<name>.timeout`, or
//! the call's own); retries with backoff and a budget (`retry.*`); the per-attempt timeout
//! (`attempt_timeout`); deadline propagation (what is left of the inbound request's
//! `x-request-timeout-ms`, failing fast when spent); the bulkhead (`bulkhead.*`); and power-of-two-choices balancing over the live
//! endpoint set with a breaker per endpoint (outlier ejection, `outlier.*`), on pooled
//! keep-alive HTTP/1.1 connections, or one multiplexed HTTP/2 connection per endpoint with
//! `http2 = true` (prior knowledge; chassis servers accept it). Each attempt carries the
//! trace context and request id with a `traceparent` of its own: a fresh span id, the id of
//! its CLIENT span when traces are exported, so every call and every retry shows in the
//! trace. Only the dependency's own failures count against the breakers
//! ([blame](crate::resilience::blame)).
//!
//! A client calls a discovered service, or any HTTP API through a base URL
//! (`clients.<name>.url = "https://api.example.com/v1"`): the URL's host and port are its one
//! endpoint, its path prefixes every route (`/v1/items`), and the route template stays the
//! caller's (`/items`) in metrics and spans. Over TLS (an `https` url, or `tls.enabled` for a
//! discovered service) it speaks rustls, trusting the system's roots or `tls.ca_file`,
//! presenting `tls.client_cert_file` for mutual TLS and verifying `tls.server_name` when set;
//! it never falls back to cleartext. A certificate that fails verification fails the call as
//! [`ClientErrorKind::Tls`]: charged to the dependency like any transport failure, and not
//! retried (every attempt would get the same answer).
//!
//! Each call records `http_client_request_duration_seconds{http_request_method, http_route,
//! http_response_status_code, server_address}`, where `http_route` is the route template the
//! caller names (never the raw path) and `server_address` the service name.

pub(crate) mod balance;
pub(crate) mod base_url;
mod check;
mod ejections;
pub(crate) mod error;
mod live;
pub(crate) mod outcomes;
pub(crate) mod pool;
mod registry;
mod reply;
mod request;
mod route;
mod series;
pub(crate) mod tls;
mod transport;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use tokio::time::Instant;

use axum::body::Body;
use http::{Method, Request, Response};
use tower::{Service, ServiceExt};

use self::balance::{Balancer, Endpoints};
pub use self::check::ClientCheck;
use self::error::ClientRetries;
pub use self::error::{ClientError, ClientErrorKind, NoEndpoint, UnexpectedStatus};
pub(crate) use self::live::{Judge, LiveStack};
use self::outcomes::OutcomeCounters;
use self::pool::Pool;
pub(crate) use self::registry::GRPC_PREFIX;
pub use self::registry::{BreakerStatus, ClientRegistry, ClientStatus, EndpointStatus};
pub use self::reply::{DEFAULT_BODY_LIMIT, Reply};
pub use self::request::{RequestBuilder, RouteTemplate};
pub use self::route::{IntoRoute, Route, RouteError, Template};
use self::series::{ClientSeries, Series};
pub use self::tls::TlsConfigError;
pub use self::transport::TransportError;
use crate::discovery::{DiscoveryError, Endpoints as Discovered};
use crate::resilience::blame::{Cause, Verdict};
use crate::resilience::breaker::{BreakerConfigError, CircuitBreaker, State};
use crate::resilience::config::{ClientResilienceConfig, InvalidResilienceConfig};

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
    /// `clients.<name>.tls` cannot be made into a TLS configuration (a file missing or not
    /// what it should be; the file is named, a key's contents never are).
    #[error(transparent)]
    Tls(#[from] TlsConfigError),
}

/// A resilient HTTP client for one service; cheap to clone, share it.
#[derive(Debug, Clone)]
pub struct HttpClient {
    name: Arc<str>,
    series: Arc<ClientSeries>,
    outcomes: Arc<OutcomeCounters>,
    live: Arc<LiveStack<Balancer, ClientRetries>>,
    endpoints: Arc<Endpoints>,
}

impl HttpClient {
    /// A client for `name` with `config`, balancing over the live endpoint set `endpoints`
    /// (from [`Registry::discover`](crate::discovery::Registry::discover), or
    /// [`Endpoints::fixed`](crate::discovery::Endpoints::fixed)).
    ///
    /// With `config.url` set, the URL gives the scheme and the path prefix and `endpoints`
    /// where to send: [`Context::client`](crate::service::Context::client) passes the URL's
    /// own host and port. Over TLS (`tls.enabled` or an `https` url) the rustls configuration
    /// is built here, once: its files are read now.
    ///
    /// # Errors
    ///
    /// When the configuration is out of range, or a TLS file is missing or not what it
    /// should be.
    pub fn new(
        name: &str,
        config: &ClientResilienceConfig,
        endpoints: Discovered,
    ) -> Result<Self, ClientBuildError> {
        config.validate()?;
        let prefix = config
            .base_url()?
            .map(|url| url.prefix().to_owned())
            .unwrap_or_default();
        let http = Pool::new(config)?;
        let endpoints = Endpoints::follow(name, config.outlier.clone(), endpoints);
        let balancer = Balancer::new(Arc::clone(&endpoints), http, &prefix);
        let live = LiveStack::new(name, config, balancer, ClientRetries, Judge::InStack)?;
        let name: Arc<str> = Arc::from(name);
        Ok(Self {
            series: Arc::new(ClientSeries::new(Arc::clone(&name))),
            outcomes: Arc::new(OutcomeCounters::new(&name, "call")),
            name,
            live: Arc::new(live),
            endpoints,
        })
    }

    /// The service this client calls.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A health check on the dependency from what the client knows: `warn` while no
    /// endpoint is known or the breaker is open (see [`ClientCheck`]).
    pub fn check(&self) -> ClientCheck {
        ClientCheck::new(self.clone())
    }

    /// The client-wide circuit breaker (state, forced states). A reconfiguration that
    /// changes its window replaces it: ask again rather than keeping it.
    pub fn breaker(&self) -> CircuitBreaker {
        self.live.breaker()
    }

    /// The `clients.<name>` settings in force.
    pub fn config(&self) -> ClientResilienceConfig {
        self.live.config()
    }

    /// Takes `config`'s timeouts, retries, breakers, outlier ejection and bulkhead for the
    /// calls that start from now on, while calls in flight finish as they began. The
    /// breakers keep their state and window unless their window changed; the retry budget
    /// and the bulkhead keep theirs unless their own settings changed. The `url`, `tls` and
    /// `http2` of `config` are not read: they shape the connections, and need a new client.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use chassis::client::HttpClient;
    /// use chassis::discovery::Endpoints;
    /// use chassis::resilience::config::ClientResilienceConfig;
    ///
    /// let endpoints = Endpoints::fixed("catalog", []);
    /// let client = HttpClient::new("catalog", &ClientResilienceConfig::default(), endpoints)?;
    /// let mut looser = client.config();
    /// looser.timeout = Some(Duration::from_secs(5));
    /// client.reconfigure(&looser)?;
    /// assert_eq!(client.config().timeout, Some(Duration::from_secs(5)));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// When `config` is out of range; nothing changes then.
    pub fn reconfigure(&self, config: &ClientResilienceConfig) -> Result<(), ClientBuildError> {
        config.validate()?;
        self.endpoints.reconfigure(&config.outlier)?;
        self.live.reconfigure(config)
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

    /// A call of `method` on `route` (a template, with [`Route::param`] values for its
    /// parameters); send it with [`RequestBuilder::send`].
    pub fn request(&self, method: Method, route: impl IntoRoute) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, route.into_route())
    }

    /// A `GET` of `route`.
    pub fn get(&self, route: impl IntoRoute) -> RequestBuilder {
        self.request(Method::GET, route)
    }

    /// A `POST` to `route` (not retried unless marked, as with
    /// [`RequestBuilder::idempotency_key`]).
    pub fn post(&self, route: impl IntoRoute) -> RequestBuilder {
        self.request(Method::POST, route)
    }

    /// A `PUT` to `route`.
    pub fn put(&self, route: impl IntoRoute) -> RequestBuilder {
        self.request(Method::PUT, route)
    }

    /// A `PATCH` of `route` (not retried unless marked).
    pub fn patch(&self, route: impl IntoRoute) -> RequestBuilder {
        self.request(Method::PATCH, route)
    }

    /// A `DELETE` of `route`.
    pub fn delete(&self, route: impl IntoRoute) -> RequestBuilder {
        self.request(Method::DELETE, route)
    }

    /// The service name, shared.
    pub(crate) fn shared_name(&self) -> Arc<str> {
        Arc::clone(&self.name)
    }

    /// Sends `request` (its URI a path such as `/items/1`: the client picks the endpoint),
    /// measured under its [`RouteTemplate`] (`_OTHER` without one).
    pub(crate) async fn call(&self, request: Request<Body>) -> Result<Response<Body>, ClientError> {
        let method = method_label(request.method());
        let route = request
            .extensions()
            .get::<RouteTemplate>()
            .map_or(OTHER_ROUTE, |template| template.0);
        let start = Instant::now();
        let mut call = CallWatch::new(&self.outcomes);
        let result = self.live.stack().oneshot(request).await;
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
}

/// The client as a `tower::Service`, so users stack their own layers (auth, signing) in
/// front of it: the request's URI is a path, its [`RouteTemplate`] extension (set by
/// [`RequestBuilder::build`]) names its route for metrics and spans.
///
/// ```
/// # async fn demo(catalog: chassis::client::HttpClient) -> Result<(), tower::BoxError> {
/// use tower::{ServiceBuilder, ServiceExt};
///
/// let signed = ServiceBuilder::new()
///     .map_request(|mut request: http::Request<axum::body::Body>| {
///         request.headers_mut().insert("x-signature", http::HeaderValue::from_static("sig"));
///         request
///     })
///     .service(catalog.clone());
/// let request = catalog.get("/items").build()?;
/// let response = signed.oneshot(request).await?;
/// # let _ = response; Ok(()) }
/// ```
impl Service<Request<Body>> for HttpClient {
    type Response = Response<Body>;
    type Error = ClientError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, ClientError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> Poll<Result<(), ClientError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let client = self.clone();
        Box::pin(async move { client.call(request).await })
    }
}

/// The `http_route` of a request sent without a [`RouteTemplate`].
const OTHER_ROUTE: &str = "_OTHER";

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
