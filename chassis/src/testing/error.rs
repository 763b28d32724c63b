//! [`ClusterError`]: what can go wrong starting or driving a test cluster.

use std::time::Duration;

use crate::service::LaunchError;

/// Starting, changing or reading a [`TestCluster`](super::TestCluster) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No service of that name was added to the cluster.
    #[error("the cluster has no service {0:?}")]
    UnknownService(String),
    /// Two services of the cluster have the same name.
    #[error("the service {0:?} was added twice")]
    DuplicateService(String),
    /// The service has no running instance at that index.
    #[error("service {service:?} has no instance {index}")]
    NoInstance {
        /// The service.
        service: String,
        /// The index asked for.
        index: usize,
    },
    /// An instance failed to start.
    #[error("starting {service} failed: {source}")]
    Launch {
        /// The service.
        service: String,
        /// Why.
        #[source]
        source: LaunchError,
    },
    /// An instance started but did not register (did not become ready) in time.
    #[error("{service} did not become ready and register within {bound:?}")]
    NotReady {
        /// The service.
        service: String,
        /// How long the cluster waited.
        bound: Duration,
    },
    /// The cluster was wired [`direct`](super::ClusterBuilder::direct): callers reach
    /// instances at their own addresses, and no link has a proxy to put a fault on.
    #[error(
        "the cluster is wired directly: {caller} reaches {callee} with no proxy to put a fault on"
    )]
    DirectlyWired {
        /// The caller asked for.
        caller: String,
        /// The callee asked for.
        callee: String,
    },
    /// An operational endpoint could not be read.
    #[error("GET {url}: {message}")]
    Endpoint {
        /// What was asked.
        url: String,
        /// Why it failed.
        message: String,
    },
    /// The simulator stopped a [`Simulation`](super::Simulation) run: its time limit
    /// passed or a host failed.
    #[cfg(feature = "simulation")]
    #[cfg_attr(docsrs, doc(cfg(feature = "simulation")))]
    #[error("the simulation failed: {0}")]
    Simulation(String),
}
