//! # chassis
//!
//! The crate a team adds to a new service so that configuration, health, graceful shutdown,
//! resilience, telemetry and service discovery are right from the first commit. Built on
//! tokio, hyper, axum and tower: every cross-cutting concern is a `tower::Layer`, and the
//! service's own code stays plain axum.
//!
//! ## A complete service
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use chassis::service::Context;
//!
//! #[chassis::service(name = "hello", main, defaults = false)] // no config/default.toml
//! async fn hello(_ctx: Context<()>) -> Result<Router, std::convert::Infallible> {
//!     Ok(Router::new().route("/", get(|| async { "hello" })))
//! }
//! ```
//!
//! ## Lifecycle
//!
//! [`service::run`] (what the generated `main` calls) loads [`config`] (every problem
//! reported at once, before any port is bound) -> starts [`telemetry`] (logs, metrics, OTLP
//! traces) -> builds the service's router with a [`service::Context`] (configuration,
//! [`health`] registry, [`shutdown`] handle, [`client`]s over [`discovery`]) -> wraps it in the
//! [`server`] stack -> binds -> marks start-up complete and registers with discovery -> serves
//! until SIGTERM or SIGINT -> runs the [`shutdown`] sequence. [`service::spawn`] does the same
//! inside a running program, for tests and for several services in one process.
//!
//! ## Modules
//!
//! | module | owns |
//! |---|---|
//! | [`config`] | layered, typed configuration and its errors |
//! | [`health`] | check registry, liveness / readiness / startup, `application/health+json` |
//! | [`shutdown`] | signals, the shutdown sequence, hooks |
//! | [`server`] | the standard middleware stack, admin routes, serving |
//! | [`resilience`] | circuit breaker, retries with budget, timeouts and deadlines, bulkhead |
//! | [`telemetry`] | logs, traces (OTLP), metrics (Prometheus), W3C propagation |
//! | [`discovery`] | `Discover` / `Register`: static, DNS, etcd |
//! | [`client`] | the resilient HTTP client |
//! | `grpc` | (feature `grpc`) tonic services on the same port and stack, gRPC health and reflection, a resilient gRPC channel |
//! | [`service`](mod@service) | the `Microservice` trait, `Context`, `run` / `spawn` |
//! | `testing` | (feature `testing`) several services in one test, faults per link; (feature `simulation`) deterministically |
//!
//! ## Features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `dns` | yes | DNS discovery (SRV, A/AAAA) through hickory-resolver |
//! | `otlp` | yes | trace export over OTLP gRPC and HTTP/protobuf |
//! | `etcd` | no | etcd discovery and registration (building etcd-client needs `protoc`) |
//! | `grpc` | no | gRPC services beside the routes, `grpc.health.v1`, reflection, a resilient gRPC channel (no `protoc`) |
//! | `testing` | no | `chassis::testing`: several services in one test, faults per link |
//! | `simulation` | no | `chassis::testing::Simulation`: the same on a simulated network and clock, replayed from a seed (turmoil; brings tokio's `test-util`) |

pub mod client;
pub mod config;
pub mod discovery;
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub mod grpc;
pub mod health;
pub mod prelude;
pub mod resilience;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use chassis_macros::service;

#[doc(hidden)]
pub mod __private;

/// The README's examples, compiled as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
