//! `GET /admin/config` and `POST /admin/config/reload`: what configuration runs, and
//! loading it again (admin port only, behind the admin token).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;

use super::Problem;
use crate::config::reload::{ReloadHandle, ReloadResult, ReloadTrigger};

/// `GET /admin/config` answers the effective configuration: every key with its value and
/// source (`{"keys": {"server.port": {"value": 8080, "source": "file config/default.toml"}},
/// "pending_restart": {...}}`), secrets as `"***"`. `POST /admin/config/reload` reloads every
/// source and answers the [`ReloadReport`](crate::config::reload::ReloadReport): `200` when
/// applied or unchanged, `422` when refused (with every problem).
pub fn config_routes(reload: ReloadHandle) -> Router {
    Router::new()
        .route("/admin/config", get(effective))
        .route("/admin/config/reload", post(reload_now))
        .with_state(reload)
}

async fn effective(State(reload): State<ReloadHandle>) -> Response {
    Json(&*reload.effective()).into_response()
}

async fn reload_now(State(reload): State<ReloadHandle>) -> Response {
    match reload.reload_by(ReloadTrigger::Admin).await {
        Some(report) => {
            let status = if report.result == ReloadResult::Refused {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            (status, Json(report)).into_response()
        }
        None => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .detail("the service is shutting down: configuration is no longer reloaded")
            .into_response(),
    }
}
