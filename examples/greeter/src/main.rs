//! greeter: the gRPC service of the getting-started guide: `greeter.v1.Greeter` beside an
//! HTTP route, with health and reflection, calling catalog over gRPC. `cargo run -p catalog`
//! (port 8081) and `cargo run -p greeter` (port 8092), then
//! `grpcurl -plaintext -d '{"item_id":"espresso"}' localhost:8092 greeter.v1.Greeter/SayHello`.
use chassis::grpc::{GrpcChannel, GrpcServer};
use chassis::prelude::*;
use pb::catalog::{GetItemRequest, catalog_client::CatalogClient};
use pb::{HelloReply, HelloRequest, greeter_server::GreeterServer};
use tonic::{Request, Response, Status};

#[allow(unreachable_pub, clippy::pedantic)] // generated code, under strict lints
mod pb {
    tonic::include_proto!("greeter.v1");
    pub mod catalog {
        tonic::include_proto!("catalog.v1");
    }
}

/// The encoded descriptors of both `.proto` files, from `build.rs`.
const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

#[derive(serde::Deserialize)]
struct Settings {
    greeting: String, // GREETER__GREETING=hi, or config/default.toml
}

struct Greetings {
    greeting: String,
    catalog: CatalogClient<GrpcChannel>,
}

#[tonic::async_trait]
impl pb::greeter_server::Greeter for Greetings {
    async fn say_hello(&self, call: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let asked = GetItemRequest {
            id: call.into_inner().item_id,
        };
        let item = self.catalog.clone().get_item(asked).await?.into_inner(); // its status on failure
        let message = format!("{}, {}!", self.greeting, item.name);
        Ok(Response::new(HelloReply { message }))
    }
}

#[chassis::service(main)]
async fn greeter(
    ctx: Context<Settings>,
) -> Result<Router, Box<dyn std::error::Error + Send + Sync>> {
    let catalog = ctx.grpc("catalog")?.idempotent_from(DESCRIPTORS)?; // clients.catalog
    let greeting = ctx.config().greeting.clone();
    let greetings = Greetings {
        greeting: greeting.clone(),
        catalog: CatalogClient::new(catalog),
    };
    let grpc = GrpcServer::new(&ctx)
        .add_service(GreeterServer::new(greetings))
        .file_descriptor_set(DESCRIPTORS) // for reflection
        .into_router()?;
    let plain = move || async move { Json(greeting) };
    Ok(Router::new().route("/greeting", get(plain)).merge(grpc))
}
