//! Telemetry: structured logs, request traces, W3C propagation and Prometheus metrics.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use chassis::telemetry::{self, TelemetryConfig, http::ServerTelemetryLayer};
//!
//! # fn main() -> Result<(), telemetry::TelemetryError> {
//! let cfg = TelemetryConfig::default();
//! let log = telemetry::init_logging(&cfg, std::env::var("RUST_LOG").ok().as_deref())?;
//! let metrics = telemetry::install_prometheus()?;
//!
//! let app: Router = Router::new()
//!     .route("/items/{id}", get(|| async { "item" }))
//!     .layer(ServerTelemetryLayer::from_config(&cfg))
//!     .merge(telemetry::metrics_routes(metrics));
//! let admin: Router = telemetry::admin_routes(log); // on server.admin_port only
//! # Ok(()) }
//! ```
//!
//! # Why
//!
//! The first question about a failing call is "which request, which service, how slow".
//! With this module every service answers it without code of its own: log lines carry the
//! trace id, traces cross service boundaries through `traceparent`, and RED metrics with
//! bounded labels are ready for Prometheus. See `docs/observability.md` for every name.
//!
//! # Parts
//!
//! - [`config`]: the `telemetry` section;
//! - [`logs`]: the global subscriber, JSON or pretty, with a reloadable filter;
//! - [`propagation`]: `traceparent` / `tracestate` / `baggage`, in and out;
//! - [`http`]: the server layer (span, metrics, access log);
//! - [`metrics`]: the Prometheus recorder, `/metrics`, metric names;
//! - `otlp` (feature `otlp`, on by default): trace export to an OpenTelemetry collector;
//! - [`admin_routes`]: the run-time log level.

mod admin;
pub(crate) mod client_span;
pub mod config;
mod error;
pub mod http;
pub(crate) mod link;
pub mod logs;
pub mod metrics;
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub mod otlp;
mod process;
pub mod propagation;
pub(crate) mod server_span;

pub use admin::admin_routes;
pub use config::{AccessLog, LogConfig, LogFormat, OtlpConfig, OtlpProtocol, TelemetryConfig};
pub use error::TelemetryError;
pub use logs::{LogHandle, init_logging};
pub use metrics::{MetricsHandle, install_prometheus, metrics_routes};
