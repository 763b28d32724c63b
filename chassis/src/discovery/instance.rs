//! [`Instance`] (what registers) and [`Registration`] (the handle that deregisters).

use std::collections::BTreeMap;
use std::fmt;

use super::{Address, BoxFuture, DiscoveryError};

/// This running instance, as it registers itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Instance {
    /// The service name (`Microservice::NAME`).
    pub name: String,
    /// This instance's unique id.
    pub instance_id: String,
    /// The service version.
    pub version: String,
    /// Where others reach it (see [`DiscoveryConfig::advertise_address`](super::DiscoveryConfig::advertise_address)).
    pub address: Address,
    /// Free-form metadata (`discovery.metadata`).
    pub metadata: BTreeMap<String, String>,
}

impl Instance {
    /// An instance without metadata.
    pub fn new(
        name: impl Into<String>,
        instance_id: impl Into<String>,
        version: impl Into<String>,
        address: impl Into<Address>,
    ) -> Self {
        Self {
            name: name.into(),
            instance_id: instance_id.into(),
            version: version.into(),
            address: address.into(),
            metadata: BTreeMap::new(),
        }
    }

    /// Sets the metadata.
    #[must_use]
    pub fn with_metadata(mut self, metadata: BTreeMap<String, String>) -> Self {
        self.metadata = metadata;
        self
    }
}

/// A backend's live registration: what [`Registration`] wraps. Implement it to add a
/// backend; dropping it must stop any keep-alive without deregistering (as a crash would).
pub trait Deregister: Send + Sync + fmt::Debug + 'static {
    /// Removes the instance from the registry, promptly.
    fn deregister(self: Box<Self>) -> BoxFuture<'static, Result<(), DiscoveryError>>;

    /// Whether the instance is registered right now (false while the registry is away).
    fn is_registered(&self) -> bool {
        true
    }
}

/// The handle of a registered instance: keep it while serving, call
/// [`deregister`](Self::deregister) first thing on shutdown.
///
/// Dropping it without deregistering stops the keep-alive and leaves the entry to expire
/// (an etcd lease after its TTL), which is what a crash looks like to callers.
#[derive(Debug)]
#[must_use = "dropping a registration stops its keep-alive"]
pub struct Registration {
    inner: Option<Box<dyn Deregister>>,
}

impl Registration {
    /// A registration with nothing to undo (static and DNS backends: the platform owns the
    /// records).
    pub fn noop() -> Self {
        Self { inner: None }
    }

    /// Wraps a backend's registration.
    pub fn new(handle: impl Deregister) -> Self {
        Self {
            inner: Some(Box::new(handle)),
        }
    }

    /// Whether the instance is registered right now; always true for a no-op registration.
    pub fn is_registered(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|inner| inner.is_registered())
    }

    /// Removes the instance from the registry and stops the keep-alive.
    ///
    /// # Errors
    ///
    /// [`DiscoveryError::Registry`] when the registry could not be told in time; the entry
    /// then expires on its own (etcd: after the lease TTL).
    pub async fn deregister(self) -> Result<(), DiscoveryError> {
        match self.inner {
            Some(inner) => inner.deregister().await,
            None => Ok(()),
        }
    }
}
