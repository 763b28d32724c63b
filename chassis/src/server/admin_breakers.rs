//! `/admin/breakers` and `/admin/clients`: every circuit breaker with its state and counts,
//! forcing one open, closed or disabled, and every client's endpoints with their ejection
//! (admin port only, behind the admin token), as Resilience4j's actuator endpoints do. gRPC
//! channels are there too, named `grpc:<name>`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde::Deserialize;

use super::Problem;
use crate::client::{BreakerStatus, ClientRegistry, ClientStatus};

/// `GET /admin/breakers` lists every client's breaker (a gRPC channel's named
/// `grpc:<name>`, as its metrics are); `GET /admin/breakers/{name}` shows
/// one; `PUT /admin/breakers/{name}` with `{"state": "forced_open"}` (calls refused),
/// `{"state": "disabled"}` (calls pass, nothing recorded) or `{"state": "closed"}` (back to
/// normal: closed with an empty window) changes it and answers it. `GET /admin/clients`
/// lists every client with its breaker and endpoints (`ejected` while an endpoint's own
/// breaker keeps calls away); `GET /admin/clients/{name}` shows one.
pub fn breaker_routes(clients: ClientRegistry) -> Router {
    Router::new()
        .route("/admin/breakers", get(breakers))
        .route("/admin/breakers/{name}", get(breaker).put(force))
        .route("/admin/clients", get(list_clients))
        .route("/admin/clients/{name}", get(client))
        .with_state(clients)
}

async fn breakers(State(clients): State<ClientRegistry>) -> Json<Vec<BreakerStatus>> {
    Json(clients.breakers().iter().map(BreakerStatus::of).collect())
}

async fn breaker(State(clients): State<ClientRegistry>, Path(name): Path<String>) -> Response {
    match clients.breaker(&name) {
        Some(breaker) => Json(BreakerStatus::of(&breaker)).into_response(),
        None => unknown(&name),
    }
}

/// The body of `PUT /admin/breakers/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wanted {
    state: Target,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Target {
    ForcedOpen,
    Disabled,
    Closed,
}

async fn force(
    State(clients): State<ClientRegistry>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Some(breaker) = clients.breaker(&name) else {
        return unknown(&name);
    };
    let wanted = match serde_json::from_slice::<Wanted>(&body) {
        Ok(wanted) => wanted.state,
        Err(_) => {
            return Problem::new(StatusCode::BAD_REQUEST)
                .detail(r#"expected {"state": "forced_open"}, "disabled" or "closed""#)
                .into_response();
        }
    };
    match wanted {
        Target::ForcedOpen => {
            breaker.force_open();
        }
        Target::Disabled => {
            breaker.disable();
        }
        Target::Closed => breaker.reset(),
    }
    tracing::warn!(breaker = %name, state = ?wanted, "circuit breaker changed by an operator");
    Json(BreakerStatus::of(&breaker)).into_response()
}

async fn list_clients(State(clients): State<ClientRegistry>) -> Json<Vec<ClientStatus>> {
    Json(clients.statuses())
}

async fn client(State(clients): State<ClientRegistry>, Path(name): Path<String>) -> Response {
    match clients.status(&name) {
        Some(status) => Json(status).into_response(),
        None => unknown(&name),
    }
}

/// A name no client has: said without echoing it (it is the caller's input).
fn unknown(_name: &str) -> Response {
    Problem::new(StatusCode::NOT_FOUND)
        .detail("no client of that name: GET /admin/clients lists them")
        .into_response()
}
