//! The cost of the chassis server stack in-process: the same trivial handler through
//! `tower::ServiceExt::oneshot` as a bare axum router, behind each layer alone, and behind
//! the whole standard stack. Requests are built outside the timed loop; one-worker runtime.
//!
//! Run: `cargo bench -p chassis-benches --bench stack`

use std::hint::black_box;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use chassis::config::ServerConfig;
use chassis::server::{
    BodyLimitLayer, CatchPanicLayer, HandleErrorLayer, LoadShedLayer, RequestIdLayer,
    RequestTimeoutLayer,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::Request;
use tower::{Layer, Service, ServiceExt};

fn router() -> Router {
    Router::new().route("/items/{id}", get(|| async { "ok" }))
}

/// A request as hyper hands it over: with the headers a real client sends.
fn request() -> Request<Body> {
    Request::get("/items/1")
        .header("host", "127.0.0.1:8080")
        .header("user-agent", "bench/1.0")
        .header("accept", "*/*")
        .body(Body::empty())
        .expect("valid request")
}

fn bench_service<S>(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, service: &S)
where
    S: Service<Request<Body>, Response = http::Response<Body>> + Clone,
    S::Error: std::fmt::Debug,
{
    c.bench_function(name, |b| {
        b.to_async(rt).iter_batched(
            || (service.clone(), request()),
            |(service, request)| async move {
                black_box(service.oneshot(request).await.expect("handled"));
            },
            BatchSize::SmallInput,
        );
    });
}

fn stack(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = ServerConfig::default();
    let group_name = |name: &str| format!("stack/{name}");

    bench_service(c, &rt, &group_name("bare_axum"), &router());
    bench_service(
        c,
        &rt,
        &group_name("request_id"),
        &RequestIdLayer.layer(router()),
    );
    bench_service(
        c,
        &rt,
        &group_name("catch_panic"),
        &CatchPanicLayer.layer(router()),
    );
    bench_service(
        c,
        &rt,
        &group_name("load_shed"),
        &HandleErrorLayer.layer(LoadShedLayer::new(1024).layer(router())),
    );
    bench_service(
        c,
        &rt,
        &group_name("timeout"),
        &HandleErrorLayer.layer(RequestTimeoutLayer::new(Duration::from_secs(30)).layer(router())),
    );
    bench_service(
        c,
        &rt,
        &group_name("body_limit_and_read_timeout"),
        &BodyLimitLayer::new(2 << 20)
            .read_timeout(Duration::from_secs(30))
            .layer(router()),
    );
    bench_service(
        c,
        &rt,
        &group_name("standard_stack"),
        &chassis::server::standard_stack(&config, router()),
    );
}

criterion_group!(
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = stack
);
criterion_main!(benches);
