//! gateway: the public edge. Forwards `/api/items` to catalog and `/api/orders` to orders,
//! and answers a fallback (the last item list it saw, marked stale) while catalog's circuit
//! breaker is open.
//!
//! Run it alone with `cargo run -p gateway` (port 8080; expects catalog on 8081 and orders on
//! 8082), or with the others through `cargo run -p shop`.

mod fallback;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chassis::client::{ClientBuildError, HttpClient, Route, RouteTemplate};
use chassis::server::Problem;
use chassis::service::Context;
use tower::ServiceExt;

use fallback::LastItems;

/// Marks an answer served from the fallback instead of the catalog.
pub const FALLBACK_HEADER: &str = "x-fallback";

#[derive(Clone)]
struct App {
    catalog: HttpClient,
    orders: HttpClient,
    last_items: Arc<LastItems>,
}

/// Builds the gateway's routes. The macro declares the service type [`Gateway`].
#[chassis::service(name = "gateway")]
pub async fn gateway(ctx: Context<()>) -> Result<Router, ClientBuildError> {
    let app = App {
        catalog: ctx.client("catalog")?,
        orders: ctx.client("orders")?,
        last_items: Arc::new(LastItems::default()),
    };
    Ok(Router::new()
        .route("/api/items", get(list_items))
        .route("/api/items/{id}", get(get_item))
        .route("/api/orders", axum::routing::post(place_order))
        .route("/api/orders/{id}", get(get_order))
        .with_state(app))
}

async fn list_items(State(app): State<App>) -> Response {
    match app.catalog.get("/items").send().await {
        Ok(reply) if reply.status() == StatusCode::OK => {
            let content_type = reply.headers().get(header::CONTENT_TYPE).cloned();
            match reply.bytes().await {
                Ok(bytes) => {
                    app.last_items.remember(bytes.clone());
                    let mut response = Response::new(Body::from(bytes));
                    if let Some(content_type) = content_type {
                        response
                            .headers_mut()
                            .insert(header::CONTENT_TYPE, content_type);
                    }
                    response
                }
                Err(error) => {
                    tracing::warn!(%error, "reading the catalog's item list failed");
                    bad_gateway()
                }
            }
        }
        Ok(reply) if reply.status().is_server_error() => app.last_items.answer(),
        Ok(reply) => relay(reply.into_response()),
        Err(error) => {
            tracing::debug!(%error, "serving the item list fallback");
            app.last_items.answer()
        }
    }
}

async fn get_item(State(app): State<App>, Path(id): Path<String>) -> Response {
    let route = Route::new("/items/{id}").param("id", id);
    match app.catalog.get(route).send().await {
        Ok(reply) => relay(reply.into_response()),
        Err(error) => error.into_response(),
    }
}

/// Streams the caller's body on to orders: the client as a `tower::Service`, the route
/// template in the request.
async fn place_order(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let mut request = Request::post("/orders").body(body);
    if let Ok(request) = request.as_mut() {
        for name in [
            header::CONTENT_TYPE,
            header::HeaderName::from_static("idempotency-key"),
        ] {
            if let Some(value) = headers.get(&name) {
                request.headers_mut().insert(name, value.clone());
            }
        }
        request.extensions_mut().insert(RouteTemplate("/orders"));
    }
    let Ok(request) = request else {
        return Problem::new(StatusCode::BAD_REQUEST).into_response();
    };
    match app.orders.clone().oneshot(request).await {
        Ok(response) => relay(response),
        Err(error) => error.into_response(),
    }
}

async fn get_order(State(app): State<App>, Path(id): Path<String>) -> Response {
    let route = Route::new("/orders/{id}").param("id", id);
    match app.orders.get(route).send().await {
        Ok(reply) => relay(reply.into_response()),
        Err(error) => error.into_response(),
    }
}

/// Passes a service's answer through, keeping its status, content type, body and, for a
/// caller that spoke gRPC to a JSON route, the trailers-only status it was answered.
fn relay(response: http::Response<Body>) -> Response {
    let (parts, body) = response.into_parts();
    let mut relayed = Response::new(body);
    *relayed.status_mut() = parts.status;
    for name in ["content-type", "grpc-status", "grpc-message"] {
        if let Some(value) = parts.headers.get(name) {
            relayed.headers_mut().insert(name, value.clone());
        }
    }
    relayed
}

/// A dependency's answer that could not be read: the detail is in the log.
fn bad_gateway() -> Response {
    Problem::new(StatusCode::BAD_GATEWAY)
        .detail("a service this request needs failed")
        .current_request_id()
        .into_response()
}
