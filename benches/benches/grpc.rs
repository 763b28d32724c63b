//! gRPC unary calls over loopback, the chassis against bare tonic, in one run: the same
//! `catalog.v1.Catalog/GetItem` service
//!
//! - `bare_tonic`: served by tonic's own server, called through tonic's own channel;
//! - `chassis_server`: served by a chassis service (the standard stack, telemetry, RPC
//!   metrics, health and reflection beside it), called through tonic's channel;
//! - `chassis_both`: the same chassis service, called through the chassis' `GrpcChannel`
//!   (balancer, breakers, retries, timeouts, deadline and trace propagation, RPC metrics).
//!
//! Sequential calls on one HTTP/2 connection, each server on a thread of its own; the time per
//! call is the inverse of throughput. Compare within one run: docs/benchmarks.md quotes the
//! ratios.
//!
//! Run: `cargo bench -p chassis-benches --bench grpc`

use std::hint::black_box;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use axum::Router;
use catalog::pb::catalog_client::CatalogClient;
use catalog::pb::catalog_server::{Catalog, CatalogServer};
use catalog::pb::{GetItemRequest, Item, ListItemsRequest};
use chassis::discovery::{Endpoint, Endpoints};
use chassis::grpc::{GrpcChannel, GrpcServer};
use chassis::resilience::config::ClientResilienceConfig;
use chassis::service::{Context, Launcher, Microservice};
use criterion::{Criterion, criterion_group, criterion_main};
use tonic::{Request, Response, Status};

/// One fixed item, whatever is asked.
#[derive(Debug, Clone, Copy)]
struct Fixed;

#[tonic::async_trait]
impl Catalog for Fixed {
    async fn get_item(&self, request: Request<GetItemRequest>) -> Result<Response<Item>, Status> {
        Ok(Response::new(Item {
            id: request.into_inner().id,
            name: "Espresso beans, 1 kg".to_owned(),
            price_cents: 2450,
            currency: "EUR".to_owned(),
        }))
    }

    type ListItemsStream = Pin<Box<dyn futures_util::Stream<Item = Result<Item, Status>> + Send>>;

    async fn list_items(
        &self,
        _request: Request<ListItemsRequest>,
    ) -> Result<Response<Self::ListItemsStream>, Status> {
        Err(Status::unimplemented("not benchmarked"))
    }
}

/// The same service on the chassis.
struct ChassisCatalog;

impl Microservice for ChassisCatalog {
    type Config = ();
    const NAME: &'static str = "bench-catalog";
    const VERSION: &'static str = "0.0.0";

    async fn router(ctx: Context<()>) -> Result<Router, tower::BoxError> {
        let grpc = GrpcServer::new(&ctx)
            .add_service(CatalogServer::new(Fixed))
            .file_descriptor_set(catalog::FILE_DESCRIPTOR_SET)
            .into_router()?;
        Ok(Router::new().merge(grpc))
    }
}

/// Runs `serve` on a current-thread runtime of its own thread; answers the address it bound.
fn on_thread<F, Fut>(serve: F) -> SocketAddr
where
    F: FnOnce(std::sync::mpsc::Sender<SocketAddr>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(serve(tx));
    });
    rx.recv().expect("the server started")
}

fn bare_tonic() -> SocketAddr {
    on_thread(|tx| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let _ = tx.send(listener.local_addr().expect("address"));
        let _ = tonic::transport::Server::builder()
            .add_service(CatalogServer::new(Fixed))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await;
    })
}

fn chassis_service() -> SocketAddr {
    on_thread(|tx| async move {
        let launched = Launcher::<ChassisCatalog>::new()
            .expect("launcher")
            .set("server.host", "127.0.0.1")
            .set("server.port", 0)
            .set("telemetry.log.level", "error")
            .spawn()
            .await;
        let handle = launched.expect("the chassis service starts");
        let _ = tx.send(handle.addr());
        std::future::pending::<()>().await;
    })
}

fn grpc(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let tonic_channel = |addr: SocketAddr| {
        rt.block_on(async move {
            tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .expect("uri")
                .connect()
                .await
                .expect("connected")
        })
    };
    let bare = CatalogClient::new(tonic_channel(bare_tonic()));
    let chassis_addr = chassis_service();
    let chassis_server = CatalogClient::new(tonic_channel(chassis_addr));
    let chassis_both = rt.block_on(async {
        let endpoints = Endpoints::fixed("catalog", [Endpoint::new(chassis_addr)]);
        let channel = GrpcChannel::new("catalog", &ClientResilienceConfig::default(), endpoints)
            .expect("channel")
            .idempotent_from(catalog::FILE_DESCRIPTOR_SET)
            .expect("descriptors");
        CatalogClient::new(channel)
    });

    let mut group = c.benchmark_group("grpc_unary");
    let call = |client: &CatalogClient<_>| {
        let mut client = client.clone();
        async move {
            let asked = GetItemRequest {
                id: "espresso".to_owned(),
            };
            black_box(client.get_item(asked).await.expect("answered"));
        }
    };
    group.bench_function("bare_tonic", |b| b.to_async(&rt).iter(|| call(&bare)));
    group.bench_function("chassis_server", |b| {
        b.to_async(&rt).iter(|| call(&chassis_server));
    });
    group.bench_function("chassis_both", |b| {
        b.to_async(&rt).iter(|| {
            let mut client = chassis_both.clone();
            async move {
                let asked = GetItemRequest {
                    id: "espresso".to_owned(),
                };
                black_box(client.get_item(asked).await.expect("answered"));
            }
        });
    });
    group.finish();
}

criterion_group!(
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = grpc
);
criterion_main!(benches);
