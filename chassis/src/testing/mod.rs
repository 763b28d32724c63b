//! Several services in one test (feature `testing`): a [`TestCluster`] starts them in one
//! process on free loopback ports, wires their discovery to each other, and puts a TCP proxy
//! on every link between a caller and a callee, where a test switches [`Fault`]s on and off.
//!
//! ```
//! use axum::{Router, extract::State, routing::get};
//! use chassis::client::HttpClient;
//! use chassis::service::Context;
//! use chassis::testing::{Fault, TestCluster};
//!
//! #[chassis::service(name = "leaf", defaults = false)]
//! async fn leaf(_ctx: Context<()>) -> Result<Router, std::convert::Infallible> {
//!     Ok(Router::new().route("/", get(|| async { "leaf" })))
//! }
//!
//! #[chassis::service(name = "edge", defaults = false)]
//! async fn edge(ctx: Context<()>) -> Result<Router, chassis::client::ClientBuildError> {
//!     let leaf = ctx.client("leaf")?;
//!     Ok(Router::new().route("/", get(|State(leaf): State<HttpClient>| async move {
//!         match leaf.get("/").send().await {
//!             Ok(reply) => reply.text().await.unwrap_or_default(),
//!             Err(_) => "fallback".to_owned(),
//!         }
//!     })).with_state(leaf))
//! }
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cluster = TestCluster::builder().service::<Leaf>().service::<Edge>().start().await?;
//! let edge = cluster.addr("edge")?;
//! # let get = |addr| async move { chassis::testing::get_text(addr, "/").await };
//! assert_eq!(get(edge).await?, "leaf");
//!
//! cluster.link("edge", "leaf")?.set(Fault::Reset); // edge's calls to leaf now fail
//! assert_eq!(get(edge).await?, "fallback");
//! cluster.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Why
//!
//! How a service behaves when a dependency is slow, failing or unreachable is the behaviour
//! most worth testing and the hardest to reach from unit tests. Here the services are the
//! real ones, started by the same [`Launcher`](crate::service::Launcher) as in production,
//! and the faults are on real TCP connections: the caller's client, timeouts, retries and
//! breakers react exactly as they would to the network or the callee failing.
//!
//! # What the cluster wires
//!
//! - **Discovery**: each instance gets a registry of the cluster's (through
//!   [`Launcher::registry`](crate::service::Launcher::registry)): it registers there when
//!   ready and deregisters first thing on shutdown, as with etcd, and a caller discovering
//!   `catalog` sees one endpoint per registered catalog instance: the address of the link's
//!   proxy for that instance. Stopping, restarting and scaling change the set callers see.
//! - **Ports**: `server.port = 0` on `127.0.0.1`; no fixed port, no environment variable,
//!   no configuration file beyond each service's embedded defaults.
//! - **Observation**: [`TestCluster::addr`], [`TestCluster::health`],
//!   [`TestCluster::metrics`] (`GET /metrics`), [`TestCluster::logs`] (each service's lines,
//!   captured by a process-wide subscriber installed by the first cluster).
//!
//! Two builder options make the same cluster a demo's (`cargo run -p shop` starts this
//! way): [`ClusterBuilder::direct`] hands callers each instance's own address, with no
//! proxy and so no fault, and [`ClusterBuilder::from_process`] configures each service as a
//! deployed process is (its files, profile, environment variables and ports).
//!
//! # Limits
//!
//! Metrics series and captured logs are kept per service *name*, process-wide (as the
//! chassis' metrics are): two clusters running at once in one test binary with the same
//! service names see each other's. Give such tests their own binary (`tests/<name>.rs`), as
//! the examples do. Faults act at the TCP level: [`Fault::ErrorResponses`] speaks HTTP/1.1.
//! The guide: `docs/testing.md`.
//!
//! # The deterministic mode
//!
//! With the feature `simulation`, `Simulation` runs the same services on a simulated
//! network and clock, replayed exactly from a seed: see its documentation.

// `caller` and `callee` are the words of the field.
#![allow(clippy::similar_names)]

mod capture;
mod cluster;
mod declared;
mod error;
mod fault;
mod http;
mod link;
mod network;
mod proxy;
#[cfg(feature = "simulation")]
pub(crate) mod simulation;

pub use cluster::{ClusterBuilder, TestCluster};
pub use error::ClusterError;
pub use fault::Fault;
pub use link::Link;
#[cfg(feature = "simulation")]
#[cfg_attr(docsrs, doc(cfg(feature = "simulation")))]
pub use simulation::{SimulatedCluster, SimulatedReply, Simulation, SimulationBuilder};

/// `GET http://{addr}{path}` and the body as text, whatever the status: a small helper for
/// the calls a test makes to a cluster's services.
///
/// # Errors
///
/// [`ClusterError::Endpoint`] when the request fails or takes over 10 seconds.
pub async fn get_text(addr: std::net::SocketAddr, path: &str) -> Result<String, ClusterError> {
    Ok(http::get(addr, path).await?.1)
}
