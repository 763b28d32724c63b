//! [`Context`]: what a service's router gets from the chassis.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::client::{ClientBuildError, HttpClient};
use crate::discovery::Registry;

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
    registry: Registry,
    clients: Mutex<HashMap<String, HttpClient>>,
    #[cfg(feature = "grpc")]
    channels: Mutex<HashMap<String, crate::grpc::GrpcChannel>>,
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
        registry: Registry,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                identity,
                config,
                settings,
                health,
                shutdown,
                registry,
                clients: Mutex::new(HashMap::new()),
                #[cfg(feature = "grpc")]
                channels: Mutex::new(HashMap::new()),
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

    /// The resilient HTTP client for service `name`, configured by `clients.<name>` and fed
    /// by discovery, or sent to `clients.<name>.url` when it is set (its host and port, its
    /// path prefixing every route); built once, then shared by every caller of this context.
    ///
    /// # Errors
    ///
    /// When `clients.<name>` is invalid (a TLS file included) or discovery knows nothing of
    /// `name`.
    pub fn client(&self, name: &str) -> Result<HttpClient, ClientBuildError> {
        let mut clients = self
            .inner
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(name) {
            return Ok(client.clone());
        }
        let config = self
            .inner
            .settings
            .client(name)
            .cloned()
            .unwrap_or_default();
        let endpoints = match config.base_url()? {
            Some(url) => url.endpoints(name),
            None => self.inner.registry.discover(name)?,
        };
        let client = HttpClient::new(name, &config, endpoints)?;
        clients.insert(name.to_owned(), client.clone());
        Ok(client)
    }

    /// The gRPC channel to service `name` (feature `grpc`), configured by `clients.<name>`
    /// and fed by discovery (or `clients.<name>.url`'s host and port), always over HTTP/2;
    /// built once, then shared. Give it to a tonic-generated client:
    /// `CatalogClient::new(ctx.grpc("catalog")?)`.
    ///
    /// # Errors
    ///
    /// When `clients.<name>` is invalid or discovery knows nothing of `name`.
    #[cfg(feature = "grpc")]
    pub fn grpc(&self, name: &str) -> Result<crate::grpc::GrpcChannel, ClientBuildError> {
        let mut channels = self
            .inner
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(channel) = channels.get(name) {
            return Ok(channel.clone());
        }
        let config = self
            .inner
            .settings
            .client(name)
            .cloned()
            .unwrap_or_default();
        let endpoints = match config.base_url()? {
            Some(url) => url.endpoints(name),
            None => self.inner.registry.discover(name)?,
        };
        let channel = crate::grpc::GrpcChannel::new(name, &config, endpoints)?;
        channels.insert(name.to_owned(), channel.clone());
        Ok(channel)
    }

    /// The `clients.<name>` sections no client was made for (names with `-` as `_`): most
    /// likely a misspelt name, whose settings nothing reads.
    pub fn unclaimed_client_sections(&self) -> Vec<String> {
        #[allow(unused_mut, reason = "gRPC channels claim sections too")]
        let mut made: Vec<String> = self
            .inner
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .map(|name| name.replace('-', "_"))
            .collect();
        #[cfg(feature = "grpc")]
        made.extend(
            self.inner
                .channels
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .keys()
                .map(|name| name.replace('-', "_")),
        );
        self.inner
            .settings
            .clients
            .keys()
            .filter(|section| !made.contains(section))
            .cloned()
            .collect()
    }

    /// Service discovery: the registry this instance registers with and finds others in.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The shutdown handle: select on [`Shutdown::draining`] in long-lived work, register
    /// hooks with [`Shutdown::on_shutdown`].
    pub fn shutdown(&self) -> &Shutdown {
        &self.inner.shutdown
    }
}
