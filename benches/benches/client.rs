//! The resilient client's cost over loopback: the same GET against the same bare axum server,
//! through a bare hyper-util client and through `chassis::client::HttpClient` (balancer,
//! outlier and client breakers, retries with budget, timeouts, deadline and trace
//! propagation, client metrics). Sequential requests on one keep-alive connection, so the
//! time per request is the inverse of throughput; compare the two in the same run.
//!
//! Run: `cargo bench -p chassis-benches --bench client`

use std::hint::black_box;
use std::time::Duration;

use chassis::client::{HttpClient, Route};
use chassis::discovery::{Endpoint, Endpoints};
use chassis::resilience::config::ClientResilienceConfig;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

fn client(c: &mut Criterion) {
    let addr =
        chassis_benches::fixtures::serve_on_thread(chassis_benches::fixtures::routes(), None);
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
            let route = Route::new("/items/{id}").param("id", 1);
            let reply = chassis.get(route).send().await.expect("response");
            black_box(
                reply
                    .into_response()
                    .into_body()
                    .collect()
                    .await
                    .expect("body"),
            );
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
