//! [`Context`]: what a service's router gets from the chassis.

use std::sync::Arc;

use crate::config::Settings;
use crate::health::HealthRegistry;
use crate::shutdown::Shutdown;

/// Who this instance is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Service name.
    pub name: String,
    /// Service version.
    pub version: String,
    /// Unique id of this running instance.
    pub instance_id: String,
}

impl Identity {
    /// An identity with a fresh random instance id.
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            instance_id: format!("{name}-{:016x}", fastrand::u64(..)),
        }
    }
}

/// The service's configuration, health registry and shutdown handle; cheap to clone.
#[derive(Debug)]
pub struct Context<C> {
    inner: Arc<Inner<C>>,
}

#[derive(Debug)]
struct Inner<C> {
    identity: Identity,
    config: C,
    settings: Settings,
    health: HealthRegistry,
    shutdown: Shutdown,
}

impl<C> Clone for Context<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> Context<C> {
    /// A context from its parts (the runtime builds it; tests may too).
    pub fn new(
        identity: Identity,
        config: C,
        settings: Settings,
        health: HealthRegistry,
        shutdown: Shutdown,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                identity,
                config,
                settings,
                health,
                shutdown,
            }),
        }
    }

    /// The service's own settings.
    pub fn config(&self) -> &C {
        &self.inner.config
    }

    /// The chassis sections of the configuration.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Name, version and instance id.
    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// The health registry: register readiness checks of the service's dependencies here.
    pub fn health(&self) -> &HealthRegistry {
        &self.inner.health
    }

    /// The shutdown handle: select on [`Shutdown::draining`] in long-lived work, register
    /// hooks with [`Shutdown::on_shutdown`].
    pub fn shutdown(&self) -> &Shutdown {
        &self.inner.shutdown
    }
}
