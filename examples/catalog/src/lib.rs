//! catalog: items and prices, the leaf service of the examples, over HTTP (`/items`) and
//! gRPC (`catalog.v1.Catalog`, with health and reflection) on the same port.
//!
//! Run it alone with `cargo run -p catalog` (port 8081), or with the others through
//! `cargo run -p shop`; then `grpcurl -plaintext 127.0.0.1:8081 list`.

mod grpc;

/// The generated `catalog.v1` messages, client and server (`build.rs`: protox and tonic's
/// generator, no `protoc`).
#[allow(missing_docs, clippy::pedantic, unreachable_pub)]
pub mod pb {
    tonic::include_proto!("catalog.v1");
}

/// The encoded `FileDescriptorSet` of `catalog.proto`: reflection serves it, and a client
/// reads from it which methods are idempotent.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/catalog_descriptor.bin"));

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chassis::grpc::{GrpcBuildError, GrpcServer};
use chassis::health::{CheckResult, Probe};
use chassis::server::Problem;
use chassis::service::Context;
use serde::{Deserialize, Serialize};

/// The catalog's own settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogConfig {
    /// Currency of every price.
    pub currency: String,
}

/// An item for sale.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Item {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Price in cents of `currency`.
    pub price_cents: u64,
    /// ISO currency code.
    pub currency: String,
}

type Items = Arc<BTreeMap<String, Item>>;

fn inventory(currency: &str) -> Items {
    let items = [
        ("espresso", "Espresso beans, 1 kg", 2_450),
        ("grinder", "Burr grinder", 12_900),
        ("kettle", "Gooseneck kettle", 5_900),
        ("filters", "Paper filters, 100", 690),
    ];
    Arc::new(
        items
            .into_iter()
            .map(|(id, name, price_cents)| {
                let item = Item {
                    id: id.to_owned(),
                    name: name.to_owned(),
                    price_cents,
                    currency: currency.to_owned(),
                };
                (id.to_owned(), item)
            })
            .collect(),
    )
}

/// Builds the catalog's routes and registers its readiness check. The macro declares the
/// service type [`Catalog`] (name `catalog`, the package version, [`CatalogConfig`], and
/// `config/default.toml` compiled in as defaults).
#[chassis::service(name = "catalog")]
pub async fn catalog(ctx: Context<CatalogConfig>) -> Result<Router, GrpcBuildError> {
    let items = inventory(&ctx.config().currency);
    let loaded = Arc::clone(&items);
    ctx.health()
        .register("inventory", Probe::Readiness, move || {
            let count = loaded.len();
            async move {
                if count == 0 {
                    CheckResult::fail("no items loaded")
                } else {
                    CheckResult::pass().output(format!("{count} items"))
                }
            }
        });
    let grpc = GrpcServer::new(&ctx)
        .add_service(pb::catalog_server::CatalogServer::new(grpc::CatalogGrpc {
            items: Arc::clone(&items),
        }))
        .file_descriptor_set(FILE_DESCRIPTOR_SET)
        .into_router()?;
    Ok(Router::new()
        .route("/items", get(list_items))
        .route("/items/{id}", get(get_item))
        .with_state(items)
        .merge(grpc))
}

async fn list_items(State(items): State<Items>) -> Json<Vec<Item>> {
    Json(items.values().cloned().collect())
}

async fn get_item(State(items): State<Items>, Path(id): Path<String>) -> Response {
    match items.get(&id) {
        Some(item) => Json(item.clone()).into_response(),
        None => Problem::new(http::StatusCode::NOT_FOUND)
            .detail(format!("no item with id {id:?}"))
            .into_response(),
    }
}
