//! [`DiscoveryError`]: what can go wrong setting up discovery or registration.

use tower::BoxError;

use super::InvalidAddress;

/// Setting up discovery, discovering a service or (de)registering failed.
///
/// A registry that cannot be reached is not an error of [`discover`](super::Discover) or
/// [`register`](super::Register): those keep trying in the background (see the module docs).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// A `discovery` configuration key is invalid.
    #[error("discovery.{key}: {message}")]
    Config {
        /// The key, relative to `discovery`.
        key: String,
        /// What was expected.
        message: String,
    },
    /// The configured backend was compiled out.
    #[error("discovery backend {backend} needs the cargo feature {feature} of chassis")]
    FeatureDisabled {
        /// The backend.
        backend: &'static str,
        /// The cargo feature that enables it.
        feature: &'static str,
    },
    /// The static backend lists no endpoints for this service.
    #[error("no endpoints configured for service {0} (discovery.static.{0})")]
    UnknownService(String),
    /// The service name cannot be used with this backend.
    #[error("invalid service name {0:?}")]
    InvalidName(String),
    /// An address is not `host:port`.
    #[error(transparent)]
    InvalidAddress(#[from] InvalidAddress),
    /// Discovery needs a tokio runtime to run its background tasks.
    #[error("discovery needs a tokio runtime")]
    NoRuntime,
    /// The registry failed (building its client, or deregistering).
    #[error("{backend}: {source}")]
    Registry {
        /// The backend.
        backend: &'static str,
        /// Why.
        #[source]
        source: BoxError,
    },
}

impl DiscoveryError {
    #[cfg_attr(not(any(feature = "dns", feature = "etcd")), allow(dead_code))]
    pub(crate) fn registry(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Registry {
            backend,
            source: source.into(),
        }
    }
}

#[cfg_attr(not(any(feature = "dns", feature = "etcd")), allow(dead_code))]
/// The handle of the current tokio runtime, or [`DiscoveryError::NoRuntime`].
pub(crate) fn runtime() -> Result<tokio::runtime::Handle, DiscoveryError> {
    tokio::runtime::Handle::try_current().map_err(|_| DiscoveryError::NoRuntime)
}

/// No endpoint is known for a service: a call to it was not made.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no endpoint known for service {0:?}")]
pub struct NoEndpoint(pub String);
