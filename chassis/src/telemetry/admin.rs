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
//! answers the filter now in force; a directive that does not parse is answered
//! `400 application/problem+json` and changes nothing. Serve these routes on
//! `server.admin_port` only, never on the public port.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

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
        Ok(()) => log.current_level().into_response(),
        Err(err) => {
            let problem = serde_json::json!({
                "type": "about:blank",
                "title": "Bad Request",
                "status": 400,
                "detail": err.to_string(),
            });
            (
                StatusCode::BAD_REQUEST,
                [(CONTENT_TYPE, "application/problem+json")],
                problem.to_string(),
            )
                .into_response()
        }
    }
}
