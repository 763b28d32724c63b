//! The names a service uses most, in one `use chassis::prelude::*;`: the service context,
//! the client and its routes and errors, health checks, and the plain axum items of a router
//! (re-exported as they are: the routes stay axum's).
//!
//! ```no_run
//! use chassis::prelude::*;
//!
//! #[chassis::service(name = "hello", main, defaults = false)]
//! async fn hello(_ctx: Context<()>) -> Result<Router, std::convert::Infallible> {
//!     Ok(Router::new().route("/", get(|| async { Json("hello") })))
//! }
//! ```

pub use axum::extract::{Path, Query, State};
pub use axum::routing::{delete, get, patch, post, put};
pub use axum::{Json, Router};

pub use crate::client::{ClientBuildError, ClientError, HttpClient, Reply, Route};
pub use crate::health::{CheckResult, Probe};
pub use crate::server::Problem;
pub use crate::service::Context;
