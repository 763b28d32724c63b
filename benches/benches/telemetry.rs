//! Per-request cost of `ServerTelemetryLayer` against the bare router, and of W3C
//! `traceparent` parsing and formatting.
//!
//! Run: `cargo bench -p chassis-benches --bench telemetry`. Requests are built outside the
//! timed section; the runtime is current-thread.

use std::hint::black_box;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use chassis::telemetry::http::ServerTelemetryLayer;
use chassis::telemetry::propagation::{TraceContext, TraceParent};
use chassis::telemetry::{LogFormat, TelemetryConfig, install_prometheus, logs};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Request};
use tower::ServiceExt;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn request() -> Request<Body> {
    Request::builder()
        .uri("/items/1")
        .header("traceparent", TRACEPARENT)
        .header("x-request-id", "0f5e2c1a-7d7b-4c1e-9f3a-2b9d8e6c4a10")
        .body(Body::empty())
        .unwrap_or_default()
}

fn routes() -> Router {
    Router::new().route("/items/{id}", get(|| async { "item" }))
}

fn server(c: &mut Criterion) {
    let _metrics = install_prometheus();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    // `with_state(())` turns handlers into routes once, as `axum::serve` does; without it axum
    // rebuilds (and re-layers) each handler per request.
    let bare = routes().with_state(());
    let layered = routes().layer(ServerTelemetryLayer::new()).with_state(());

    let mut group = c.benchmark_group("server");
    let mut run = |name: &str, app: &Router| {
        group.bench_function(name, |b| {
            b.iter_batched(
                request,
                |req| runtime.block_on(app.clone().oneshot(req)),
                BatchSize::SmallInput,
            );
        });
    };
    run("bare", &bare);
    run("telemetry_layer", &layered);

    // With the JSON subscriber at `info` (span and access log enabled), writing to a sink:
    // what a production service pays, formatting included.
    let mut cfg = TelemetryConfig::default();
    cfg.log.format = LogFormat::Json;
    let (subscriber, _handle) =
        logs::subscriber(&cfg, None, std::io::sink).unwrap_or_else(|e| panic!("subscriber: {e}"));
    let _default = tracing::subscriber::set_default(subscriber);
    run("bare+json_logs", &bare);
    run("telemetry_layer+json_logs", &layered);
    group.finish();
}

fn propagation(c: &mut Criterion) {
    let value = HeaderValue::from_static(TRACEPARENT);
    let parsed = TraceParent::parse(&value).unwrap_or_else(|| panic!("valid"));
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", value.clone());
    headers.insert(
        "tracestate",
        HeaderValue::from_static("rojo=00f067aa0ba902b7"),
    );

    let mut group = c.benchmark_group("propagation");
    group.bench_function("parse", |b| {
        b.iter(|| TraceParent::parse(black_box(&value)));
    });
    group.bench_function("encode", |b| b.iter(|| black_box(&parsed).encode()));
    group.bench_function("parse+format", |b| {
        b.iter(|| TraceParent::parse(black_box(&value)).map(|tp| tp.to_header_value()));
    });
    group.bench_function("context_from_headers", |b| {
        b.iter(|| TraceContext::from_headers(black_box(&headers)));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = server, propagation
}
criterion_main!(benches);
