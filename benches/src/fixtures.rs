//! The services under test: one trivial handler, bare and behind the chassis, built the same
//! way in every benchmark so their numbers compare.

use std::convert::Infallible;
use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use chassis::config::ServerConfig;
use chassis::health::{self, HealthRegistry};
use chassis::telemetry::http::ServerTelemetryLayer;
use chassis::telemetry::{
    AccessLog, LogFormat, MetricsHandle, TelemetryConfig, logs, metrics_routes,
};
use http::{Request, Response};
use tower::Service;

/// Default server settings, `'static` because `standard_stack`'s service borrows them.
static SERVER: LazyLock<ServerConfig> = LazyLock::new(ServerConfig::default);

/// The path every benchmark requests.
pub const PATH: &str = "/items/1";

/// The one route, `GET /items/{id}` answering `ok`.
pub fn routes() -> Router {
    Router::new().route("/items/{id}", get(|| async { "ok" }))
}

/// A request as hyper hands it to the service: with the headers a real client sends.
pub fn request() -> Request<Body> {
    Request::get(PATH)
        .header("host", "127.0.0.1:8080")
        .header("user-agent", "chassis-bench/1.0")
        .header("accept", "*/*")
        .body(Body::empty())
        .unwrap_or_default()
}

/// (a) The bare axum router, with `with_state(())` applied once as `axum::serve` does.
pub fn bare() -> Router {
    routes().with_state(())
}

/// The chassis application router as the service runtime assembles it: the service's routes
/// merged with health and `/metrics`, then [`ServerTelemetryLayer`] via `Router::layer`.
/// No `with_state(())` yet.
pub fn chassis_router(metrics: MetricsHandle) -> Router {
    chassis_router_with(metrics, AccessLog::default())
}

/// [`chassis_router`] with the access-log event at `access` (`AccessLog::Off` for none).
pub fn chassis_router_with(metrics: MetricsHandle, access: AccessLog) -> Router {
    let health = HealthRegistry::new();
    health.mark_started();
    routes()
        .merge(health::routes(health))
        .merge(metrics_routes(metrics))
        .layer(ServerTelemetryLayer::new().access_log(access))
}

/// (b) The chassis default server stack: [`chassis_router`] with `with_state(())` (as
/// `axum::serve` does) inside `chassis::server::standard_stack` with default settings.
pub fn chassis(
    metrics: MetricsHandle,
) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static {
    chassis_with(metrics, AccessLog::default())
}

/// [`chassis()`] with the access-log event at `access`.
pub fn chassis_with(
    metrics: MetricsHandle,
    access: AccessLog,
) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static {
    chassis::server::standard_stack(&SERVER, chassis_router_with(metrics, access).with_state(()))
}

/// (b) as `chassis::service` builds it today: the same stack without `with_state(())`, so axum
/// turns the handler into a route and applies the router's layers on every request.
pub fn chassis_as_runtime(
    metrics: MetricsHandle,
) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static {
    chassis::server::standard_stack(&SERVER, chassis_router(metrics))
}

/// A `tracing` dispatcher as `init_logging` builds it (filter `info`),
/// writing to [`std::io::sink`]: formatting is paid, output is not.
pub fn log_dispatch(format: LogFormat) -> tracing::Dispatch {
    let mut cfg = TelemetryConfig::default();
    cfg.log.format = format;
    match logs::subscriber(&cfg, None, std::io::sink) {
        Ok((subscriber, _handle)) => tracing::Dispatch::new(subscriber),
        Err(error) => panic!("the default log filter is valid: {error}"),
    }
}

/// The process-wide Prometheus recorder (installed on first call).
pub fn metrics() -> MetricsHandle {
    match chassis::telemetry::install_prometheus() {
        Ok(handle) => handle,
        Err(error) => panic!("no other recorder is installed here: {error}"),
    }
}
