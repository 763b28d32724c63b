//! The service runtime: the [`Microservice`] trait, its [`Context`], and [`run`] / [`spawn`].
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use chassis::service::{Context, Microservice};
//!
//! struct Hello;
//!
//! impl Microservice for Hello {
//!     type Config = ();
//!     const NAME: &'static str = "hello";
//!     const VERSION: &'static str = "0.1.0";
//!
//!     async fn router(_ctx: Context<()>) -> Result<Router, tower::BoxError> {
//!         Ok(Router::new().route("/", get(|| async { "hello" })))
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     chassis::service::run::<Hello>().await
//! }
//! ```
//!
//! `run` listens for SIGTERM and SIGINT first (a [`Signals`](crate::shutdown::Signals) kept
//! to the end, so that no signal is lost), loads configuration (failing before any port is
//! bound), starts logging, builds the router with a [`Context`], wraps it in the standard
//! stack, binds, marks start-up complete and serves until the first signal, then runs the
//! shutdown sequence of [`crate::shutdown`]; a second signal exits at once with 130.
//!
//! [`spawn`] does the same inside a running program (tests, launchers that run several
//! services in one process) and returns a [`ServiceHandle`], which stops the service with
//! [`ServiceHandle::shutdown`]. Dropping the handle begins the same graceful shutdown, which
//! runs to completion in the background: a service nobody holds a handle to does not serve
//! on unseen (see [`ServiceHandle`] for why).

mod bind;
mod context;
mod handle;
mod launch;
mod live;
mod registration;
mod run;
mod sequence;
mod telemetry;

use std::future::Future;

use axum::Router;
use serde::de::DeserializeOwned;
use tower::BoxError;

pub use crate::shutdown::ShutdownReport;
pub use context::{Context, Identity};
pub use handle::ServiceHandle;
pub use launch::{LaunchError, Launcher, spawn};
pub use run::run;

/// A service built on the chassis: its name, version, settings type and router.
///
/// Implement it by hand or declare it with `#[chassis::service]`.
pub trait Microservice: Send + Sync + 'static {
    /// The service's own settings: every top-level configuration key that is not a chassis
    /// section. Use `()` for none.
    type Config: DeserializeOwned + Send + Sync + 'static;

    /// The service name: lowercase letters, digits and `-`. It names the environment
    /// variables (`{NAME}__SECTION__KEY`) and the discovery keys.
    const NAME: &'static str;

    /// The service version, shown by `GET /info`.
    const VERSION: &'static str;

    /// The service's own configuration defaults, as TOML compiled into the binary, layered
    /// between the chassis defaults and `config/default.toml`.
    fn embedded_defaults() -> Option<&'static str> {
        None
    }

    /// Builds the service's routes. Health, metrics and info routes are added by the chassis.
    fn router(ctx: Context<Self::Config>) -> impl Future<Output = Result<Router, BoxError>> + Send;
}
