//! Health checks: liveness, readiness and startup probes as Kubernetes means them, answered
//! in `application/health+json`.
//!
//! ```
//! use std::time::Duration;
//! use chassis::health::{self, CheckResult, HealthRegistry, Probe, Status};
//!
//! # async fn ping_db() -> Result<(), std::io::Error> { Ok(()) }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let registry = HealthRegistry::new();
//!
//! // A dependency the service cannot work without: readiness, never liveness.
//! registry
//!     .register("db", Probe::Readiness, || async {
//!         match ping_db().await {
//!             Ok(()) => CheckResult::pass(),
//!             Err(e) => CheckResult::fail(e.to_string()),
//!         }
//!     })
//!     .timeout(Duration::from_millis(300))
//!     .cache_ttl(Duration::from_secs(2));
//!
//! // Serve GET /health, /health/live, /health/ready and /health/startup.
//! let app: axum::Router = axum::Router::new().merge(health::routes(registry.clone()));
//!
//! // Not ready until start-up is complete ...
//! assert_eq!(registry.report(Some(Probe::Readiness)).await.status, Status::Fail);
//! registry.mark_started();
//! assert_eq!(registry.report(Some(Probe::Readiness)).await.status, Status::Pass);
//!
//! // ... and not ready from the first moment of shutdown, while liveness still passes.
//! registry.mark_stopping();
//! assert_eq!(registry.report(Some(Probe::Readiness)).await.status, Status::Fail);
//! assert_eq!(registry.report(Some(Probe::Liveness)).await.status, Status::Pass);
//! # }
//! ```
//!
//! # Why three probes
//!
//! Kubernetes acts differently on each probe, so each asks a different question, and putting a
//! check behind the wrong one turns a small problem into an outage.
//!
//! - **Liveness** asks "is this process broken in a way only a restart fixes?" Failing it
//!   kills the container. It **never checks dependencies**: when the database goes down, every
//!   replica's liveness would fail at once and Kubernetes would restart them all, turning a
//!   database outage into a restart storm that outlives it. Tag only in-process checks for
//!   liveness (a worker loop's heartbeat, a wedged executor); with no checks at all, liveness
//!   passes whenever the server can answer, which is often exactly right. The lifecycle latch
//!   below never touches it.
//! - **Readiness** asks "should this instance receive traffic now?" Failing it removes the
//!   instance from the Service's endpoints (load balancing) and does nothing else; it comes
//!   back when the probe passes again. Dependencies belong here. Readiness fails until
//!   [`HealthRegistry::mark_started`] and, from [`HealthRegistry::mark_stopping`] on, fails at
//!   once and for good without running any check, so that load balancers stop sending new
//!   requests while the server drains the ones it has.
//! - **Startup** asks "has start-up finished?" Until it passes once, Kubernetes runs neither
//!   liveness nor readiness, so a slow warm-up (migrations, a cache load) gets a generous
//!   budget without loosening the liveness probe. It fails until `mark_started` and then
//!   reports the checks tagged for it.
//!
//! A check may be tagged for several probes (`Probe::Readiness | Probe::Startup`), or for
//! none, in which case only `GET /health` (all checks, for humans and dashboards) shows it.
//!
//! ```yaml
//! startupProbe:   { httpGet: { path: /health/startup, port: http }, periodSeconds: 2, failureThreshold: 60 }
//! readinessProbe: { httpGet: { path: /health/ready,   port: http }, periodSeconds: 5 }
//! livenessProbe:  { httpGet: { path: /health/live,    port: http }, periodSeconds: 10 }
//! ```
//!
//! # The answer
//!
//! The body follows the IETF draft "Health Check Response Format for HTTP APIs":
//! `{"status":"pass|warn|fail","checks":{"name":[{"status":"pass","time":"...","output":"..."}]}}`.
//! The overall status is the worst of the checks; `warn` still answers 200, `fail` answers 503.
//! `time` is when the result was produced (RFC 3339, UTC). The built-in check
//! [`LIFECYCLE_CHECK`] shows the latch, with output "starting" or "shutting down".
//!
//! # How checks run
//!
//! - The checks of a probe run concurrently, each on its own task under its own timeout
//!   ([`DEFAULT_TIMEOUT`] unless set): a hanging check reports `fail` with output "timed out",
//!   so the probe answers within the longest timeout involved.
//! - A check that panics reports `fail` with output "panicked" and takes nothing else down.
//! - A check with a [`cache_ttl`](CheckRegistration::cache_ttl) is not run again while its
//!   last result is fresh; the report then shows that result with its original `time`.
//! - Callers that arrive while a check is running wait for that run instead of starting
//!   another (single flight), so a burst of probes never stampedes a dependency.
//! - A check must not block its thread: a timeout cannot interrupt blocking code. Use
//!   `tokio::task::spawn_blocking` inside the check for blocking calls.

mod check;
mod registry;
mod report;
mod routes;
mod runner;

pub use check::{CheckFuture, CheckResult, HealthCheck, Probe, Probes, Status};
pub use registry::{
    CheckRegistration, DEFAULT_TIMEOUT, HealthRegistry, LIFECYCLE_CHECK, SHUTTING_DOWN, STARTING,
};
pub use report::{CONTENT_TYPE, CheckOutcome, HealthReport};
pub use routes::routes;
