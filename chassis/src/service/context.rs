//! [`Context`]: what a service's router gets from the chassis.

use std::sync::Arc;

use tokio::sync::watch;

use crate::client::{ClientBuildError, ClientRegistry, GRPC_PREFIX, HttpClient};
use crate::config::{ConfigWatch, Settings};
use crate::discovery::{DiscoveryError, Endpoints, Registry};
use crate::health::HealthRegistry;
use crate::resilience::config::ClientResilienceConfig;
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
    config: Arc<C>,
    settings: Settings,
    live: Live<C>,
    health: HealthRegistry,
    shutdown: Shutdown,
    registry: Registry,
    clients: ClientRegistry,
}

/// The configuration as it changes while the service runs.
#[derive(Debug)]
pub(crate) struct Live<C> {
    pub(crate) config: watch::Receiver<Arc<C>>,
    pub(crate) settings: watch::Receiver<Arc<Settings>>,
}

impl<C> Clone for Context<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> Context<C> {
    /// A context from its parts (the runtime builds it; tests may too). Its configuration
    /// never changes.
    pub fn new(
        identity: Identity,
        config: C,
        settings: Settings,
        health: HealthRegistry,
        shutdown: Shutdown,
        registry: Registry,
    ) -> Self {
        let config = Arc::new(config);
        let live = Live {
            config: watch::channel(Arc::clone(&config)).1,
            settings: watch::channel(Arc::new(settings.clone())).1,
        };
        Self::live(
            identity,
            live,
            settings,
            health,
            shutdown,
            registry,
            ClientRegistry::new(),
        )
    }

    /// A context whose configuration changes through `live`, making its clients into
    /// `clients`.
    pub(crate) fn live(
        identity: Identity,
        live: Live<C>,
        settings: Settings,
        health: HealthRegistry,
        shutdown: Shutdown,
        registry: Registry,
        clients: ClientRegistry,
    ) -> Self {
        let config = Arc::clone(&live.config.borrow());
        Self {
            inner: Arc::new(Inner {
                identity,
                config,
                settings,
                live,
                health,
                shutdown,
                registry,
                clients,
            }),
        }
    }

    /// The service's own settings, as they were at start (see
    /// [`watch_config`](Self::watch_config) for their changes).
    pub fn config(&self) -> &C {
        &self.inner.config
    }

    /// The service's own settings as they change while it runs: the value in force, and
    /// each new one after a configuration change.
    ///
    /// ```no_run
    /// # #[derive(serde::Deserialize)] struct Settings { greeting: String }
    /// # fn demo(ctx: chassis::service::Context<Settings>) {
    /// let mut settings = ctx.watch_config();
    /// tokio::spawn(async move {
    ///     while let Some(new) = settings.changed().await {
    ///         tracing::info!(greeting = %new.greeting, "new greeting");
    ///     }
    /// });
    /// # }
    /// ```
    pub fn watch_config(&self) -> ConfigWatch<C> {
        ConfigWatch::new(self.inner.live.config.clone())
    }

    /// The chassis sections of the configuration, as they were at start.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The chassis sections in force now (their live keys changed since start, their other
    /// keys as they will be after a restart).
    pub fn current_settings(&self) -> Arc<Settings> {
        Arc::clone(&self.inner.live.settings.borrow())
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
    /// A live change of `clients.<name>` reaches it (see [`HttpClient::reconfigure`]).
    ///
    /// # Errors
    ///
    /// When `clients.<name>` is invalid (a TLS file included), discovery knows nothing of
    /// `name`, or `name` starts with `grpc:` (the admin endpoints' name of a gRPC channel).
    pub fn client(&self, name: &str) -> Result<HttpClient, ClientBuildError> {
        if name.starts_with(GRPC_PREFIX) {
            // The admin endpoints name gRPC channels so: no client may take such a name.
            return Err(DiscoveryError::InvalidName(name.to_owned()).into());
        }
        self.inner.clients.get_or_make(name, || {
            let (config, endpoints) = self.client_parts(name)?;
            HttpClient::new(name, &config, endpoints)
        })
    }

    /// `clients.<name>` as in force now, and where to find `name`. The keys that need a
    /// restart (`url`, `tls`, `http2`) are the ones the service started with, as a reload
    /// reports them, even for a client first made after the reload.
    fn client_parts(
        &self,
        name: &str,
    ) -> Result<(ClientResilienceConfig, Endpoints), ClientBuildError> {
        let mut config = self
            .current_settings()
            .client(name)
            .cloned()
            .unwrap_or_default();
        let started = self
            .inner
            .settings
            .client(name)
            .cloned()
            .unwrap_or_default();
        if (&config.url, &config.tls, config.http2) != (&started.url, &started.tls, started.http2) {
            tracing::warn!(
                client = name,
                "url, tls or http2 of this client changed since start: it is built with the \
                 values the service started with, until a restart"
            );
        }
        (config.url, config.tls, config.http2) = (started.url, started.tls, started.http2);
        let endpoints = match config.base_url()? {
            Some(url) => url.endpoints(name),
            None => self.inner.registry.discover(name)?,
        };
        Ok((config, endpoints))
    }

    /// The clients made so far, by name.
    pub fn clients(&self) -> &ClientRegistry {
        &self.inner.clients
    }

    /// The gRPC channel to service `name` (feature `grpc`), configured by `clients.<name>`
    /// and fed by discovery (or `clients.<name>.url`'s host and port), always over HTTP/2;
    /// built once, then shared. Give it to a tonic-generated client:
    /// `CatalogClient::new(ctx.grpc("catalog")?)`. A live change of `clients.<name>` reaches
    /// it (see [`GrpcChannel::reconfigure`](crate::grpc::GrpcChannel::reconfigure)); the
    /// admin endpoints show and control it as `grpc:<name>`.
    ///
    /// # Errors
    ///
    /// When `clients.<name>` is invalid or discovery knows nothing of `name`.
    #[cfg(feature = "grpc")]
    pub fn grpc(&self, name: &str) -> Result<crate::grpc::GrpcChannel, ClientBuildError> {
        self.inner.clients.channel_or_make(name, || {
            let (config, endpoints) = self.client_parts(name)?;
            crate::grpc::GrpcChannel::new(name, &config, endpoints)
        })
    }

    /// The `clients.<name>` sections no client or gRPC channel was made for (names with `-`
    /// as `_`): most likely a misspelt name, whose settings nothing reads.
    pub fn unclaimed_client_sections(&self) -> Vec<String> {
        let made = self.inner.clients.sections();
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
