//! The HTTP server: the standard middleware stack, the admin routes, serving.
//!
//! Every piece is a `tower::Layer` usable on its own; [`standard_stack`] puts them together in
//! the order every service gets, and [`Serving`] serves HTTP/1.1 and h2c with a bounded
//! graceful stop.
//!
//! | protection | status | configured by |
//! |---|---|---|
//! | handler panics | `500` | always on |
//! | request takes too long | `504` | `server.request_timeout` |
//! | too many requests at once | `503` + `Retry-After` | `server.max_concurrent_requests` |
//! | body too large | `413` | `server.max_body_size` |
//! | body stalls | `400` | `server.body_read_timeout` |
//! | too many or too large headers | `431` | `server.max_headers`, `server.max_header_size` |
//! | headers too slow (HTTP/2 pings alone are no request) | connection closed | `server.header_read_timeout` |
//! | kept-alive connection idle (pings alone are not activity) | connection closed | `server.idle_timeout` |
//! | connection asked to close stays open | connection reset at the next look | `server.header_read_timeout` (pace) |
//! | peer stops reading the answer, or grants it no HTTP/2 window | connection reset | `server.send_timeout` |
//! | peer's window stays shut on answers in the socket buffer | connection aborted by the kernel | `server.send_timeout` (`TCP_USER_TIMEOUT`, a look or a second later) |
//! | too many connections | accepting pauses | `server.max_connections` |
//!
//! ```
//! use axum::{Router, routing::get};
//! use chassis::config::ServerConfig;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let app = Router::new().route("/", get(|| async { "hi" }));
//! let service = chassis::server::standard_stack(&ServerConfig::default(), app);
//! let request = http::Request::get("/").body(axum::body::Body::empty()).unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! assert!(response.headers().contains_key("x-request-id"));
//! # }
//! ```

mod accept;
mod admin;
mod admin_auth;
mod admin_breakers;
mod admin_config;
mod admin_faults;
mod body_limit;
mod error;
mod faults;
mod ops_first;
mod panic;
mod problem;
mod request_id;
mod serve;
mod shed;
mod stack;
mod timeout;
mod trust;
mod watchdog;

pub use accept::{Accept, Connection};
pub use admin::{BuildInfo, ServiceInfo, info_routes};
pub use admin_auth::require_admin_token;
pub use admin_breakers::breaker_routes;
pub use admin_config::config_routes;
pub use admin_faults::fault_routes;
pub use body_limit::{BodyLimit, BodyLimitLayer};
pub use error::{
    HandleError, HandleErrorFuture, HandleErrorLayer, client_error_response, count_rejection,
    error_response, status_for,
};
pub use faults::{FaultInjection, FaultLayer, FaultsHandle};
pub use ops_first::{OpsFirst, is_operational_path};
pub use panic::{CatchPanic, CatchPanicFuture, CatchPanicLayer};
pub use problem::{PROBLEM_JSON, Problem};
pub use request_id::{REQUEST_ID, RequestId, RequestIdFuture, RequestIdLayer, random_id};
pub use serve::{ForConnection, Serving, StopReport};
pub use shed::{LoadShed, LoadShedFuture, LoadShedLayer};
pub use stack::{StandardStack, StandardStackFuture, standard_stack};
pub use timeout::{RequestTimeout, RequestTimeoutFuture, RequestTimeoutLayer};
