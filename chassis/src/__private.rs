//! What `#[chassis::service]` expands to, so that user crates need to depend on `chassis`
//! only. Not public API: no stability promise, may change in any release.

pub use axum::Router;
pub use tokio;
pub use tower::BoxError;

pub use crate::service::{Context, Microservice, run};

pub use crate::config::is_valid_service_name;
