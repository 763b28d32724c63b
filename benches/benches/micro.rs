//! Micro-benchmarks of the per-request pieces: metrics recording (held handles against
//! `counter!` / `histogram!` with labels per call), trace-context extract + inject, health
//! aggregation with cached checks, and request-id generation.
//!
//! Run: `cargo bench -p chassis-benches --bench micro` (about 40 s).

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use axum::body::Body;
use chassis::health::{CheckResult, HealthRegistry, Probe};
use chassis::server::random_id;
use chassis::telemetry::http::ServerTelemetryLayer;
use chassis::telemetry::propagation::TraceContext;
use chassis_benches::fixtures;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Response};
use tower::{Layer, ServiceExt, service_fn};

const DURATION: &str = "http_server_request_duration_seconds";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// Recording one request's duration: through a handle held since start-up (what the telemetry
/// layer does) against a macro that looks the labels up on every call.
fn metrics(c: &mut Criterion) {
    let _recorder = fixtures::metrics();
    let mut group = c.benchmark_group("metrics");
    let held = metrics::histogram!(DURATION, "http_request_method" => "GET",
        "http_route" => "/items/{id}", "http_response_status_code" => "200");
    let counter = metrics::counter!("bench_requests_total", "http_route" => "/items/{id}");
    group.bench_function("histogram_held_handle", |b| {
        b.iter(|| held.record(black_box(0.000_42)));
    });
    group.bench_function("counter_held_handle", |b| b.iter(|| counter.increment(1)));
    group.bench_function("histogram!_static_labels", |b| {
        b.iter(|| {
            metrics::histogram!(DURATION, "http_request_method" => "GET",
                "http_route" => "/items/{id}", "http_response_status_code" => "200")
            .record(black_box(0.000_42));
        });
    });
    let route = String::from("/items/{id}");
    let status = 200u16;
    group.bench_function("histogram!_owned_labels", |b| {
        b.iter(|| {
            metrics::histogram!(DURATION, "http_request_method" => "GET",
                "http_route" => black_box(&route).clone(),
                "http_response_status_code" => black_box(status).to_string())
            .record(black_box(0.000_42));
        });
    });
    group.bench_function("counter!_static_labels", |b| {
        b.iter(|| {
            metrics::counter!("bench_requests_total", "http_route" => "/items/{id}").increment(1);
        });
    });
    // The whole layer around a handler that answers at once: span (no subscriber here),
    // context extraction, active gauge, duration histogram from its cached handles.
    let rt = runtime();
    let noop = service_fn(|_req: http::Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    let layered = ServerTelemetryLayer::new().layer(noop);
    group.bench_function("telemetry_layer_around_noop", |b| {
        b.to_async(&rt).iter_batched(
            || (layered.clone(), fixtures::request()),
            |(svc, req)| async move { black_box(svc.oneshot(req).await) },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// A server extracts the caller's context and a client call made while handling the request
/// injects a child of it.
fn propagation(c: &mut Criterion) {
    let mut group = c.benchmark_group("propagation_roundtrip");
    let mut valid = HeaderMap::new();
    valid.insert("traceparent", HeaderValue::from_static(TRACEPARENT));
    valid.insert(
        "tracestate",
        HeaderValue::from_static("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
    );
    valid.insert(
        "x-request-id",
        HeaderValue::from_static("0f5e2c1a7d7b4c1e9f3a2b9d8e6c4a10"),
    );
    let mut absent = HeaderMap::new();
    absent.insert("accept", HeaderValue::from_static("*/*"));
    let mut malformed = HeaderMap::new();
    malformed.insert(
        "traceparent",
        HeaderValue::from_static("00-zz-00f067aa0ba902b7-01"),
    );
    for (name, inbound) in [
        ("valid", &valid),
        ("absent", &absent),
        ("malformed", &malformed),
    ] {
        group.bench_function(format!("extract+inject/{name}"), |b| {
            b.iter_batched_ref(
                || HeaderMap::with_capacity(8),
                |outbound| {
                    let ctx = TraceContext::from_headers(black_box(inbound));
                    ctx.child().inject(outbound);
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.bench_function("extract/valid", |b| {
        b.iter(|| TraceContext::from_headers(black_box(&valid)));
    });
    // A longer `tracestate`: eight members, two of them multi-tenant, on one line and on two.
    let members = [
        "rojo=00f067aa0ba902b7",
        "congo=t61rcWkgMzE",
        "acme@dd=s:1;t.dm:-0",
        "tenant42@sys=opaque value",
        "b3=0",
        "ot=th:8;rv:0123456789abcd",
        "vendor/x=abc*def",
        "z9_-*/=last",
    ];
    let mut long = valid.clone();
    long.insert(
        "tracestate",
        HeaderValue::from_str(&members.join(",")).unwrap_or_else(|e| panic!("{e}")),
    );
    let mut split = valid.clone();
    split.insert(
        "tracestate",
        HeaderValue::from_str(&members[..4].join(",")).unwrap_or_else(|e| panic!("{e}")),
    );
    split.append(
        "tracestate",
        HeaderValue::from_str(&members[4..].join(",")).unwrap_or_else(|e| panic!("{e}")),
    );
    for (name, inbound) in [("tracestate_8", &long), ("tracestate_8_two_lines", &split)] {
        group.bench_function(format!("extract/{name}"), |b| {
            b.iter(|| TraceContext::from_headers(black_box(inbound)));
        });
    }
    group.finish();
}

/// `GET /health/ready` work without HTTP: three cached readiness checks plus the lifecycle.
fn health(c: &mut Criterion) {
    let rt = runtime();
    let registry = HealthRegistry::new();
    for name in ["db", "cache", "queue"] {
        registry
            .register(name, Probe::Readiness, || async { CheckResult::pass() })
            .cache_ttl(Duration::from_hours(1));
    }
    registry.mark_started();
    rt.block_on(registry.report(Some(Probe::Readiness))); // fills the caches
    let empty = HealthRegistry::new();
    empty.mark_started();
    let mut group = c.benchmark_group("health");
    group.bench_function("readiness_3_cached_checks", |b| {
        b.to_async(&rt)
            .iter(|| registry.report(Some(Probe::Readiness)));
    });
    group.bench_function("readiness_3_cached_checks+json", |b| {
        b.to_async(&rt)
            .iter(|| async { registry.report(Some(Probe::Readiness)).await.to_json() });
    });
    group.bench_function("readiness_no_checks", |b| {
        b.to_async(&rt)
            .iter(|| empty.report(Some(Probe::Readiness)));
    });
    group.finish();
}

/// An `x-request-id` value: chassis' fastrand hex id against an OS-random UUID v4.
fn request_id(c: &mut Criterion) {
    let mut group = c.benchmark_group("request_id");
    group.bench_function("chassis_random_id", |b| b.iter(random_id));
    group.bench_function("uuid_v4_header", |b| {
        b.iter(|| {
            let mut buf = uuid::Uuid::encode_buffer();
            let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
            HeaderValue::from_str(text).ok()
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = metrics, propagation, health, request_id
}
criterion_main!(benches);
