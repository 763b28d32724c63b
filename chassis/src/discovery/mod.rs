//! Service discovery: find the live endpoints of a service, and register this instance.
//!
//! ```
//! use chassis::config::{DiscoveryConfig, StaticEndpoints};
//! use chassis::discovery::{Instance, Registry};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), chassis::discovery::DiscoveryError> {
//! let mut config = DiscoveryConfig::default(); // backend = "static"
//! config.static_endpoints.insert(
//!     "catalog".into(),
//!     StaticEndpoints(vec!["127.0.0.1:8081".into(), "127.0.0.1:8082".into()]),
//! );
//! let registry = Registry::from_config(&config)?;
//!
//! // A caller: the live set of catalog endpoints.
//! let mut catalog = registry.discover("catalog")?;
//! assert_eq!(catalog.ready().await.len(), 2);
//!
//! // The service runtime: register once ready, deregister first thing on shutdown.
//! let address = config.advertise_address("127.0.0.1:8080".parse().unwrap())?;
//! let registration = registry.register(Instance::new("orders", "orders-7f3a", "1.2.0", address)).await?;
//! registration.deregister().await?;
//! # Ok(()) }
//! ```
//!
//! # Why
//!
//! Instances come and go (deploys, autoscaling, crashes); callers must see the change within
//! a second or two, and must keep working when the registry itself is down. So a
//! [`Discover`] backend gives a *live set* ([`Endpoints`], a `tokio::sync::watch` of
//! [`EndpointSet`]) that a balancer reads without locking and awaits for changes, and it
//! never replaces a good set by an empty one because a lookup failed. A [`Register`]
//! backend registers the instance after it is ready and keeps it alive; the runtime
//! deregisters it before the drain delay, so callers stop choosing it while it still serves.
//!
//! # Backends (`discovery.backend`)
//!
//! | backend | finds | registers | feature |
//! |---|---|---|---|
//! | `static` | `discovery.static.<name> = ["host:port", ...]` | no-op | always |
//! | `dns` | SRV `_http._tcp.<name>.<domain>`, else A/AAAA of `<name>.<domain>` + `dns.port`; re-resolved when the TTL lapses | no-op (the platform owns DNS) | `dns` (default) |
//! | `etcd` | keys under `/services/<name>/`, watched | `/services/<name>/<instance_id>` on a lease with keep-alive | `etcd` (needs `protoc` to build) |
//!
//! # Failure behaviour
//!
//! - A failed lookup or a broken watch keeps the last good set, counts
//!   `chassis_discovery_errors_total{backend}`, logs a warning (once per outage) and retries
//!   with backoff; [`Endpoints::status`] tells how the feed is doing.
//! - An unreachable registry never fails start-up: [`Register::register`] tries once
//!   (bounded by the request timeout), then keeps registering in the background, and
//!   registers again (a new etcd lease) whenever the registry comes back.
//! - Dropping a [`Registration`] without deregistering stops the keep-alive; the entry
//!   expires with its lease, as after a crash.
//!
//! # Trait objects
//!
//! Both traits are object safe: [`Registry`] holds `Arc<dyn Discover>` and
//! `Arc<dyn Register>`, and [`Register::register`] returns a boxed future. Implement them
//! (and [`Deregister`]) to plug in another registry.
//!
//! The guide: `docs/discovery.md`.

mod address;
mod config;
mod endpoint;
pub(crate) mod endpoints;
mod error;
mod fixed;
mod instance;
mod registry;

#[cfg(feature = "dns")]
mod dns;
#[cfg(feature = "etcd")]
mod etcd;

use std::future::Future;
use std::pin::Pin;

pub use address::{Address, InvalidAddress};
pub use config::{DiscoveryBackend, DiscoveryConfig, DnsConfig, EtcdConfig, StaticEndpoints};
#[cfg(feature = "dns")]
pub use dns::DnsDiscovery;
pub use endpoint::{Endpoint, EndpointChange, EndpointSet};
pub use endpoints::{Endpoints, Publisher, SourceStatus};
pub use error::{DiscoveryError, NoEndpoint};
#[cfg(feature = "etcd")]
pub use etcd::EtcdDiscovery;
pub use fixed::{NoRegistration, StaticDiscovery};
pub use instance::{Deregister, Instance, Registration};
pub use registry::Registry;

/// A boxed, sendable future, as the object-safe traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Finds the endpoints of a service.
pub trait Discover: Send + Sync + std::fmt::Debug + 'static {
    /// Starts watching `service` and returns its live set at once: unresolved (empty) until
    /// the backend first answers, see [`Endpoints::ready`]. The backend keeps the set current
    /// in a background task until every clone of the handle is dropped. Call it once per
    /// service and clone the handle; each call starts its own watch.
    ///
    /// # Errors
    ///
    /// When the name cannot be looked up with this backend (static: not configured; DNS:
    /// not a valid name) or there is no tokio runtime. An unreachable registry is not an
    /// error: the set stays unresolved and the backend keeps trying.
    fn discover(&self, service: &str) -> Result<Endpoints, DiscoveryError>;
}

/// Registers this instance so that others find it.
pub trait Register: Send + Sync + std::fmt::Debug + 'static {
    /// Registers `instance` and keeps it registered (keep-alive in a background task) until
    /// the returned [`Registration`] is deregistered or dropped.
    ///
    /// # Errors
    ///
    /// Only for an instance the backend cannot represent or a missing tokio runtime; an
    /// unreachable registry is retried in the background instead.
    fn register(
        &self,
        instance: Instance,
    ) -> BoxFuture<'static, Result<Registration, DiscoveryError>>;
}
