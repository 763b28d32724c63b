//! Read-only service endpoints: `GET /info`.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

/// What `GET /info` answers.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceInfo {
    /// Service name.
    pub name: String,
    /// Service version.
    pub version: String,
    /// Build details.
    pub build: BuildInfo,
    /// This instance's unique id.
    pub instance_id: String,
}

/// Build details of the running binary.
#[derive(Debug, Clone, Serialize)]
pub struct BuildInfo {
    /// `debug` or `release`.
    pub profile: &'static str,
    /// The chassis version the service was built with.
    pub chassis: &'static str,
}

impl BuildInfo {
    /// The details of this build.
    pub fn current() -> Self {
        Self {
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            chassis: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// `GET /info`.
pub fn info_routes(info: ServiceInfo) -> Router {
    Router::new().route("/info", get(move || std::future::ready(Json(info.clone()))))
}
