//! The resilient client's cost over loopback: the same GET against the same bare axum server,
//! through a bare hyper-util client and through `chassis::client::HttpClient` (balancer,
//! outlier and client breakers, retries with budget, timeouts, deadline and trace
//! propagation, client metrics). Sequential requests on one keep-alive connection, so the
//! time per request is the inverse of throughput; compare the two in the same run.
//!
//! Run: `cargo bench -p chassis-benches --bench client`

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use chassis::client::HttpClient;
use chassis::discovery::{Endpoint, Endpoints};
use chassis::resilience::config::ClientResilienceConfig;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// A bare axum server on its own thread and runtime, answering `GET /items/{id}`.
fn server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    listener.set_nonblocking(true).expect("non-blocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let app = Router::new().route("/items/{id}", get(|| async { "ok" }));
            axum::serve(listener, app).await.expect("serve");
        });
    });
    addr
}

fn client(c: &mut Criterion) {
    let addr = server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("client_loopback");

    let bare = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri: http::Uri = format!("http://{addr}/items/1").parse().expect("uri");
    group.bench_function("bare_hyper_util", |b| {
        b.to_async(&rt).iter(|| async {
            let response = bare.get(uri.clone()).await.expect("response");
            black_box(response.into_body().collect().await.expect("body"));
        });
    });

    let chassis = rt.block_on(async {
        let endpoints = Endpoints::fixed("items", [Endpoint::new(addr)]);
        HttpClient::new("items", &ClientResilienceConfig::default(), endpoints).expect("client")
    });
    group.bench_function("chassis_client", |b| {
        b.to_async(&rt).iter(|| async {
            let response = chassis
                .get("/items/{id}", "/items/1")
                .await
                .expect("response");
            black_box(response.into_body().collect().await.expect("body"));
        });
    });
    group.finish();
}

criterion_group!(
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = client
);
criterion_main!(benches);
