//! `GET` and `PUT /admin/faults`: change fault injection at run time (admin port only).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;

use super::{FaultsHandle, Problem};
use crate::config::FaultsConfig;

/// `GET /admin/faults` answers the faults now; `PUT /admin/faults` with a JSON body such as
/// `{"error_rate": 1.0}` or `{"latency": "200ms"}` replaces them (`{}` turns them off).
pub fn fault_routes(faults: FaultsHandle) -> Router {
    Router::new()
        .route("/admin/faults", get(current).put(replace))
        .with_state(faults)
}

async fn current(State(faults): State<FaultsHandle>) -> Json<FaultsConfig> {
    Json(faults.get())
}

async fn replace(State(faults): State<FaultsHandle>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<FaultsConfig>(&body) {
        Ok(config) if (0.0..=1.0).contains(&config.error_rate) => {
            faults.set(&config);
            tracing::warn!(faults = ?config, "fault injection changed at run time");
            Json(faults.get()).into_response()
        }
        Ok(_) => Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
            .detail("error_rate must be from 0.0 to 1.0")
            .into_response(),
        Err(error) => Problem::new(StatusCode::BAD_REQUEST)
            .detail(format!(
                "expected {{\"latency\": \"200ms\", \"error_rate\": 0.5}}: {error}"
            ))
            .into_response(),
    }
}
