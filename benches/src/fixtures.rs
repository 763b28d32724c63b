//! The services under test: one trivial handler, bare and behind the chassis, built the same
//! way in every benchmark so their numbers compare.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use chassis::config::ServerConfig;
use chassis::health::{self, HealthRegistry};
use chassis::telemetry::http::ServerTelemetryLayer;
use chassis::telemetry::otlp::{self, OtlpGuard, ServiceResource};
use chassis::telemetry::{
    AccessLog, LogFormat, MetricsHandle, OtlpProtocol, TelemetryConfig, logs, metrics_routes,
};
use http::{Request, Response, StatusCode};
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
    chassis_router_layered(metrics, ServerTelemetryLayer::new().access_log(access))
}

/// [`chassis_router`] with `telemetry` as its telemetry layer.
pub fn chassis_router_layered(metrics: MetricsHandle, telemetry: ServerTelemetryLayer) -> Router {
    let health = HealthRegistry::new();
    health.mark_started();
    routes()
        .merge(health::routes(health))
        .merge(metrics_routes(metrics))
        .layer(telemetry)
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

/// (c) [`chassis()`] with trace export on: its telemetry layer exports through `guard` (see
/// [`otlp_export`]).
pub fn chassis_exporting(
    metrics: MetricsHandle,
    guard: &OtlpGuard,
) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static {
    let telemetry = ServerTelemetryLayer::new().otlp(guard);
    chassis::server::standard_stack(
        &SERVER,
        chassis_router_layered(metrics, telemetry).with_state(()),
    )
}

/// An OTLP/HTTP receiver on 127.0.0.1, on a thread of its own: accepts every export
/// (`POST /v1/traces`) and keeps nothing.
pub fn otlp_receiver() -> SocketAddr {
    serve_on_thread(
        Router::new().route("/v1/traces", post(|| async { StatusCode::OK })),
        None,
    )
}

/// `app` served by `axum::serve` on 127.0.0.1 (an ephemeral port), on a thread and
/// current-thread runtime of its own, pinned to `core` when given and allowed.
///
/// # Panics
///
/// When no loopback port can be bound.
pub fn serve_on_thread(app: Router, core: Option<usize>) -> SocketAddr {
    let listener = match std::net::TcpListener::bind("127.0.0.1:0") {
        Ok(listener) => listener,
        Err(error) => panic!("cannot bind a loopback port: {error}"),
    };
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("bound: {e}"));
    std::thread::spawn(move || {
        if let Some(core) = core {
            crate::servers::pin_current(core);
        }
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            let _ = listener.set_nonblocking(true);
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            let _ = axum::serve(listener, app).await;
        });
    });
    addr
}

/// Trace export to `receiver` as a service sets it up (`telemetry.otlp.endpoint`, HTTP
/// protobuf, `telemetry.otlp.sample_ratio = sample_ratio`): the log dispatcher with the OpenTelemetry layer (logs to
/// [`std::io::sink`]), the service's exporter, and the runtime its exports run on (its own,
/// so exporting does not run inside the measured requests).
///
/// Until the guard is shut down, every request of the process through a chassis stack makes
/// a span (exported when sampled): run it last.
pub fn otlp_export(
    receiver: SocketAddr,
    sample_ratio: f64,
) -> (tracing::Dispatch, OtlpGuard, tokio::runtime::Runtime) {
    let mut cfg = TelemetryConfig::default();
    cfg.otlp.endpoint = Some(format!("http://{receiver}"));
    cfg.otlp.protocol = OtlpProtocol::HttpProtobuf;
    cfg.otlp.sample_ratio = sample_ratio;
    let dispatch = match logs::subscriber(&cfg, None, std::io::sink) {
        Ok((subscriber, _handle)) => tracing::Dispatch::new(subscriber),
        Err(error) => panic!("the default log filter is valid: {error}"),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("cannot build the exporter's runtime: {error}"),
    };
    let resource = ServiceResource {
        name: "bench",
        version: "0.0.0",
        instance_id: "bench-1",
    };
    let guard = {
        let _runtime = runtime.enter();
        tracing::dispatcher::with_default(&dispatch, || otlp::install(&cfg, &resource))
    };
    match guard {
        Ok(Some(guard)) => (dispatch, guard, runtime),
        Ok(None) => panic!("trace export was not installed"),
        Err(error) => panic!("cannot install trace export: {error}"),
    }
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

/// [`log_dispatch`] writing to `/dev/null` opened as a file: each line is a `write` system
/// call in the thread that logs, as when a service wrote straight to stdout.
pub fn log_dispatch_dev_null(format: LogFormat) -> tracing::Dispatch {
    let mut cfg = TelemetryConfig::default();
    cfg.log.format = format;
    match logs::subscriber(&cfg, None, std::sync::Arc::new(dev_null())) {
        Ok((subscriber, _handle)) => tracing::Dispatch::new(subscriber),
        Err(error) => panic!("the default log filter is valid: {error}"),
    }
}

/// [`log_dispatch`] writing to `/dev/null` through [`logs::NonBlocking`], as
/// `init_logging` writes to stdout: lines are queued, and a thread of the writer's writes
/// them in batches. The writer is returned for its count of dropped lines.
pub fn log_dispatch_non_blocking(format: LogFormat) -> (tracing::Dispatch, logs::NonBlocking) {
    let mut cfg = TelemetryConfig::default();
    cfg.log.format = format;
    let writer = logs::NonBlocking::new(dev_null());
    match logs::subscriber(&cfg, None, writer.clone()) {
        Ok((subscriber, _handle)) => (tracing::Dispatch::new(subscriber), writer),
        Err(error) => panic!("the default log filter is valid: {error}"),
    }
}

/// `/dev/null`, opened for writing.
///
/// # Panics
///
/// When it cannot be opened.
pub fn dev_null() -> std::fs::File {
    match std::fs::OpenOptions::new().write(true).open("/dev/null") {
        Ok(file) => file,
        Err(error) => panic!("cannot open /dev/null: {error}"),
    }
}

/// The process-wide Prometheus recorder (installed on first call).
pub fn metrics() -> MetricsHandle {
    match chassis::telemetry::install_prometheus() {
        Ok(handle) => handle,
        Err(error) => panic!("no other recorder is installed here: {error}"),
    }
}
