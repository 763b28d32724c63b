//! orders: places orders, pricing every line through the catalog's resilient client (over
//! HTTP, or gRPC with `catalog_api = "grpc"`), and keeps them in memory. `POST /orders` honours `Idempotency-Key`: the same key returns the
//! same order, never a duplicate, even when the two requests race.
//!
//! Run it alone with `cargo run -p orders` (port 8082; expects catalog on 8081), or with the
//! others through `cargo run -p shop`.

mod keys;
mod model;
mod store;

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use catalog::pb::GetItemRequest;
use catalog::pb::catalog_client::CatalogClient;
use chassis::client::{HttpClient, Route};
use chassis::grpc::GrpcChannel;
use chassis::server::Problem;
use chassis::service::Context;
use serde::Deserialize;

pub use model::{Line, Order, OrderRequest, PricedLine};
use store::Store;

/// The header that makes `POST /orders` safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The orders service's own settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersConfig {
    /// Most lines one order may have.
    pub max_lines: usize,
    /// How long an idempotency key is remembered (the IETF draft suggests 24 hours).
    #[serde(with = "chassis::config::duration")]
    pub idempotency_ttl: std::time::Duration,
    /// Most idempotency keys remembered; beyond it the oldest are forgotten first.
    pub max_idempotency_keys: usize,
    /// How lines are priced: through the catalog's HTTP routes or its gRPC service. Both go
    /// through `clients.catalog` (timeouts, retries, breakers, discovery).
    pub catalog_api: CatalogApi,
}

/// The catalog API orders calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatalogApi {
    /// `GET /items/{id}`.
    Http,
    /// `catalog.v1.Catalog/GetItem`.
    Grpc,
}

/// The catalog, reached the way `catalog_api` says.
#[derive(Clone)]
enum CatalogLink {
    Http(HttpClient),
    Grpc(CatalogClient<GrpcChannel>),
}

#[derive(Clone)]
struct App {
    catalog: CatalogLink,
    store: Arc<Store>,
    max_lines: usize,
}

/// Builds the orders routes. The macro declares the service type [`Orders`].
#[chassis::service(name = "orders")]
pub async fn orders(
    ctx: Context<OrdersConfig>,
) -> Result<Router, Box<dyn std::error::Error + Send + Sync>> {
    let catalog = match ctx.config().catalog_api {
        CatalogApi::Http => CatalogLink::Http(ctx.client("catalog")?),
        // `GetItem` is marked `NO_SIDE_EFFECTS` in catalog.proto: its calls may be retried.
        CatalogApi::Grpc => CatalogLink::Grpc(CatalogClient::new(
            ctx.grpc("catalog")?
                .idempotent_from(catalog::FILE_DESCRIPTOR_SET)?,
        )),
    };
    let app = App {
        catalog,
        store: Arc::new(Store::new(
            ctx.config().idempotency_ttl,
            ctx.config().max_idempotency_keys,
        )),
        max_lines: ctx.config().max_lines,
    };
    Ok(Router::new()
        .route("/orders", post(place_order))
        .route("/orders/{id}", get(get_order))
        .with_state(app))
}

async fn place_order(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Json<OrderRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => {
            return Problem::new(rejection.status())
                .detail(rejection.body_text())
                .into_response();
        }
    };
    if let Err(problem) = request.validate(app.max_lines) {
        return problem.into_response();
    }
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if key.as_ref().is_some_and(|k| k.len() > keys::MAX_KEY_LEN) {
        return Problem::new(StatusCode::BAD_REQUEST)
            .detail(format!(
                "Idempotency-Key is longer than {} bytes",
                keys::MAX_KEY_LEN
            ))
            .into_response();
    }
    let created = app
        .store
        .create(key, || price(&app.catalog, &request))
        .await;
    match created {
        Ok((order, true)) => (StatusCode::CREATED, Json(order)).into_response(),
        Ok((order, false)) => (StatusCode::OK, Json(order)).into_response(),
        Err(problem) => problem.into_response(),
    }
}

async fn get_order(State(app): State<App>, Path(id): Path<String>) -> Response {
    match app.store.get(&id) {
        Some(order) => Json(order).into_response(),
        None => Problem::new(StatusCode::NOT_FOUND)
            .detail(format!("no order with id {id:?}"))
            .into_response(),
    }
}

/// Prices every line through the catalog.
async fn price(catalog: &CatalogLink, request: &OrderRequest) -> Result<Vec<PricedLine>, Problem> {
    match catalog {
        CatalogLink::Http(client) => price_http(client, request).await,
        CatalogLink::Grpc(client) => price_grpc(client.clone(), request).await,
    }
}

/// Prices every line with `catalog.v1.Catalog/GetItem`.
async fn price_grpc(
    mut catalog: CatalogClient<GrpcChannel>,
    request: &OrderRequest,
) -> Result<Vec<PricedLine>, Problem> {
    let mut priced = Vec::with_capacity(request.lines.len());
    for line in &request.lines {
        let asked = GetItemRequest {
            id: line.item_id.clone(),
        };
        let item = match catalog.get_item(asked).await {
            Ok(reply) => reply.into_inner(),
            Err(status) if status.code() == tonic::Code::NotFound => {
                return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                    .detail(format!("unknown item {:?}", line.item_id)));
            }
            Err(status) => {
                // The channel's own failures carry the client error (endpoint, why) as source.
                let cause = std::error::Error::source(&status).map(ToString::to_string);
                tracing::warn!(code = ?status.code(), cause, "pricing: the catalog call failed");
                return Err(cannot_price());
            }
        };
        let item = model::Item {
            name: item.name,
            price_cents: item.price_cents,
            currency: item.currency,
        };
        priced.push(PricedLine::new(line, item));
    }
    Ok(priced)
}

/// Prices every line with `GET /items/{id}`.
async fn price_http(
    catalog: &HttpClient,
    request: &OrderRequest,
) -> Result<Vec<PricedLine>, Problem> {
    let mut priced = Vec::with_capacity(request.lines.len());
    for line in &request.lines {
        let route = Route::new("/items/{id}").param("id", &line.item_id);
        let item = match catalog.get(route).send().await {
            Ok(reply) if reply.status() == StatusCode::NOT_FOUND => {
                return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                    .detail(format!("unknown item {:?}", line.item_id)));
            }
            Ok(reply) => reply.json::<model::Item>().await,
            Err(error) => Err(error),
        };
        let item = item.map_err(|error| {
            tracing::warn!(%error, "pricing: the catalog call failed");
            cannot_price()
        })?;
        priced.push(PricedLine::new(line, item));
    }
    Ok(priced)
}

/// The answer when the catalog cannot price an order: what went wrong is in the log, under
/// the request id the caller gets.
fn cannot_price() -> Problem {
    Problem::new(StatusCode::SERVICE_UNAVAILABLE)
        .detail("the catalog cannot price the order now")
        .current_request_id()
}
