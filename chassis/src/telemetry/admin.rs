//! `GET` / `PUT /admin/log-level`: read or change the log filter at run time.
//!
//! ```
//! use chassis::telemetry::{TelemetryConfig, admin_routes, logs};
//!
//! let (_subscriber, handle) = logs::subscriber(&TelemetryConfig::default(), None, std::io::sink).unwrap();
//! let admin: axum::Router = admin_routes(handle);
//! ```
//!
//! `PUT` takes a filter directive as the plain-text body (`debug`, `info,chassis=trace`) and
//! answers the filter now in force; a directive that does not parse, or that sets no default
//! level (empty, or naming only targets, which would silence every other line; `off` says
//! so explicitly), is answered `400 application/problem+json` and changes nothing. Serve
//! these routes on `server.admin_port` only, behind the admin token
//! ([`require_admin_token`](crate::server::require_admin_token)).
//!
//! The filter is the process's: with several services in one process, a change applies to
//! all of them.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::TelemetryError;
use super::logs::LogHandle;

/// The log-level admin routes.
pub fn admin_routes(log: LogHandle) -> Router {
    Router::new()
        .route("/admin/log-level", get(current).put(update))
        .with_state(log)
}

async fn current(State(log): State<LogHandle>) -> String {
    log.current_level()
}

async fn update(State(log): State<LogHandle>, body: String) -> Response {
    match log.set_level(&body) {
        Ok(()) => {
            let now = log.current_level();
            tracing::warn!(filter = %now, "log filter changed at run time");
            now.into_response()
        }
        Err(err @ (TelemetryError::InvalidFilter { .. } | TelemetryError::NoDefaultLevel(_))) => {
            problem(StatusCode::BAD_REQUEST, &err.to_string())
        }
        Err(err) => {
            tracing::error!(error = %err, "the log filter could not be changed");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the log filter could not be changed",
            )
        }
    }
}

fn problem(status: StatusCode, detail: &str) -> Response {
    let problem = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(CONTENT_TYPE, "application/problem+json")],
        problem.to_string(),
    )
        .into_response()
}
