//! [`Launcher`] and [`spawn`]: start a service inside a running program.

use std::marker::PhantomData;
use std::path::PathBuf;

use axum::Router;
use tokio_util::sync::CancellationToken;
use tower::{BoxError, ServiceBuilder};

use std::sync::Arc;

use tokio::sync::watch;

use super::bind::{bind, bind_error};
use super::context::Live;
use super::live::{LiveParts, ReloadCounters, serve_reloads};
use super::registration::PendingRegistration;
use super::sequence::{Stoppable, shutdown_sequence};
use super::telemetry::Telemetry;
use super::{Context, Identity, Microservice, ServiceHandle};
use crate::client::ClientRegistry;
use crate::config::ServerConfig;
use crate::config::loader::FullLoad;
use crate::config::reload::{ReloadHandle, Reloader, on_hangup, reload_channel, watch_files};
use crate::config::{ConfigError, ConfigLoader, LoadedConfig, Settings};
use crate::discovery::{DiscoveryError, Instance, Registry};
use crate::health::{self, HealthRegistry};
use crate::server::{self, BuildInfo, FaultsHandle, OpsFirst, ServiceInfo, Serving};
use crate::shutdown::Shutdown;
use crate::telemetry::metrics::ServiceScope;
use crate::telemetry::{LogHandle, TelemetryError, admin_routes, metrics_routes};

/// Starting a service failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchError {
    /// The configuration is invalid; nothing was bound.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The service's own router could not be built.
    #[error("building the router failed: {0}")]
    Router(#[source] BoxError),
    /// The discovery backend could not be set up or the instance not registered.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// Logging or the metrics exporter could not be set up.
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    /// A port could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Starts `S` with configuration from its defaults plus `overrides` (dotted keys such as
/// `server.port`), reading no file and no environment variable: what tests want.
///
/// # Errors
///
/// As [`Launcher::spawn`].
pub async fn spawn<S: Microservice>(
    overrides: impl IntoIterator<Item = (impl Into<String>, impl ToString)>,
) -> Result<ServiceHandle, LaunchError> {
    let mut launcher = Launcher::<S>::new()?;
    for (key, value) in overrides {
        launcher = launcher.set(key, value);
    }
    launcher.spawn().await
}

/// Configures and starts one service.
///
/// ```no_run
/// # use chassis::service::{Launcher, Microservice};
/// # async fn demo<S: Microservice>() -> Result<(), chassis::service::LaunchError> {
/// let handle = Launcher::<S>::from_process()?.set("server.port", 0).spawn().await?;
/// println!("listening on {}", handle.addr());
/// handle.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use]
pub struct Launcher<S> {
    loader: ConfigLoader,
    registry: Option<Registry>,
    _service: PhantomData<fn() -> S>,
}

impl<S: Microservice> Launcher<S> {
    /// Defaults only (the chassis' and the service's embedded ones).
    ///
    /// # Errors
    ///
    /// When `S::NAME` is not a valid service name.
    pub fn new() -> Result<Self, LaunchError> {
        Ok(Self::with_loader(ConfigLoader::new(S::NAME)?))
    }

    /// What a deployed process reads: `./config` (or `APP_CONFIG_DIR`), `APP_PROFILE` and
    /// the environment.
    ///
    /// # Errors
    ///
    /// When `S::NAME` is not a valid service name.
    pub fn from_process() -> Result<Self, LaunchError> {
        Ok(Self::with_loader(ConfigLoader::from_process(S::NAME)?))
    }

    fn with_loader(loader: ConfigLoader) -> Self {
        let loader = match S::embedded_defaults() {
            Some(toml) => loader.embedded_defaults(toml),
            None => loader,
        };
        Self {
            loader,
            registry: None,
            _service: PhantomData,
        }
    }

    /// Sets a default for a dotted key, below files, environment and overrides.
    #[allow(clippy::needless_pass_by_value)] // taking values by value reads best at call sites
    pub fn set_default(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.loader = self.loader.set_default(key, value);
        self
    }

    /// Sets a dotted key above every other source.
    #[allow(clippy::needless_pass_by_value)] // taking values by value reads best at call sites
    pub fn set(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.loader = self.loader.set(key, value);
        self
    }

    /// Adds environment variables to read.
    pub fn env<I: IntoIterator<Item = (String, String)>>(mut self, vars: I) -> Self {
        self.loader = self.loader.env(vars);
        self
    }

    /// Reads `default.toml` and profile files from `dir`.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.loader = self.loader.dir(dir);
        self
    }

    /// Finds and registers through `registry` instead of the backend `discovery.backend`
    /// configures: a registry of the program's own (an in-process one in tests, see
    /// `chassis::testing`). The rest of the `discovery` section still applies
    /// (`advertise`, `metadata`).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Loads configuration, builds the router, binds and serves.
    ///
    /// # Errors
    ///
    /// [`LaunchError::Config`] before anything is bound; [`LaunchError::Router`] when the
    /// service's router fails; [`LaunchError::Bind`] when a port is taken.
    pub async fn spawn(self) -> Result<ServiceHandle, LaunchError> {
        // Everything the service makes, now and in its connections later, records its
        // metrics under its own `service` label.
        let scope = ServiceScope::new(S::NAME);
        // Boxed: start-up holds much across its awaits, and callers await several services.
        scope.scope(Box::pin(self.spawn_in(scope))).await
    }

    async fn spawn_in(self, scope: ServiceScope) -> Result<ServiceHandle, LaunchError> {
        let (loader, full, etcd) = load(self.loader).await?;
        let mut reloader = Reloader::new(loader, &full);
        #[cfg(feature = "etcd")]
        if let Some(feed) = &etcd {
            reloader.follow_etcd(feed.values.clone());
        }
        let LoadedConfig { settings, app } = full.config;
        let identity = Identity::new(S::NAME, S::VERSION);
        let shutdown = Shutdown::new();
        // Its hook is registered first, so it runs last: after the user's hooks, once the
        // server stopped.
        let telemetry = Telemetry::start(&settings, &identity, &shutdown, scope)?;
        reloader.log_level_live(
            telemetry
                .log
                .as_ref()
                .is_some_and(|log| !log.from_rust_log()),
        );
        let registry = match self.registry {
            Some(registry) => registry,
            None => Registry::from_config(&settings.discovery)?,
        };
        let health = HealthRegistry::new();
        let clients = ClientRegistry::new();
        let (config_tx, config_rx) = watch::channel(Arc::new(app));
        let (settings_tx, settings_rx) = watch::channel(Arc::new(settings.clone()));
        let live = Live {
            config: config_rx,
            settings: settings_rx,
        };
        let ctx = Context::live(
            identity.clone(),
            live,
            settings.clone(),
            health.clone(),
            shutdown.clone(),
            registry.clone(),
            clients.clone(),
        );
        let routes = S::router(ctx.clone()).await.map_err(LaunchError::Router)?;
        for section in ctx.unclaimed_client_sections() {
            tracing::warn!(
                section = %format!("clients.{section}"),
                "no client was made for this configuration section: is the name misspelt?"
            );
        }
        let faults = settings.faults.enabled.then(|| {
            tracing::warn!(faults = ?settings.faults, "fault injection is enabled");
            FaultsHandle::new(&settings.faults)
        });
        let (reload, requests, effective) =
            reload_channel(reloader.startup_effective().clone(), reloader.files());
        let live = LiveParts {
            reloader,
            requests,
            effective,
            settings: settings_tx,
            config: config_tx,
            log: telemetry.log.clone(),
            faults: faults.clone(),
            clients: clients.clone(),
            registry: registry.clone(),
        };
        watch_sources(&settings, &reload, &shutdown);
        #[cfg(feature = "etcd")]
        if let Some(feed) = etcd {
            tokio::spawn(feed.source.follow(
                feed.values,
                Some(feed.revision),
                reload.clone(),
                shutdown.draining_token(),
            ));
        }
        #[cfg(not(feature = "etcd"))]
        let _: Option<EtcdFeed> = etcd;
        tokio::spawn(scope.scope(serve_reloads(
            live,
            ReloadCounters::new(),
            shutdown.draining_token(),
        )));
        let parts = Parts {
            identity,
            settings,
            health,
            shutdown,
            registry,
            telemetry,
            faults,
            reload,
            clients,
        };
        start(parts, routes).await
    }
}

/// The etcd prefix read at start-up, to follow from there.
#[cfg(feature = "etcd")]
struct EtcdFeed {
    source: crate::config::reload::EtcdSource,
    values: crate::config::reload::EtcdValues,
    revision: i64,
}

#[cfg(not(feature = "etcd"))]
type EtcdFeed = ();

/// Loads the configuration, with the keys under `reload.etcd_prefix` when it is set.
#[allow(clippy::unused_async)] // without the `etcd` feature
async fn load<C: serde::de::DeserializeOwned>(
    loader: ConfigLoader,
) -> Result<(ConfigLoader, FullLoad<C>, Option<EtcdFeed>), LaunchError> {
    let full = loader.load_full::<C>()?;
    #[cfg(feature = "etcd")]
    if let Some(source) = crate::config::reload::EtcdSource::from_settings(&full.config.settings) {
        let values = crate::config::reload::EtcdValues::default();
        let revision = source
            .read(&values)
            .await
            .map_err(|error| ConfigError::Remote {
                source_name: format!("etcd prefix {}", source.prefix()),
                reason: crate::config::redact::redact_urls_in(&error.to_string()).into_owned(),
            })?;
        let loader = loader.with_etcd(values.snapshot());
        let full = loader.load_full::<C>()?;
        let feed = EtcdFeed {
            source,
            values,
            revision,
        };
        return Ok((loader, full, Some(feed)));
    }
    Ok((loader, full, None))
}

/// Starts the watchers that trigger reloads: the files, SIGHUP.
fn watch_sources(settings: &Settings, reload: &ReloadHandle, shutdown: &Shutdown) {
    let stop = shutdown.draining_token();
    let files = reload.files();
    if settings.reload.watch_files && !files.is_empty() {
        tokio::spawn(watch_files(
            files,
            settings.reload.poll_interval,
            reload.clone(),
            stop.clone(),
        ));
    }
    if settings.reload.sighup
        && let Err(error) = on_hangup(reload.clone(), stop)
    {
        tracing::warn!(%error, "cannot listen for SIGHUP: reload through the admin endpoint");
    }
}

/// What a service is started with, besides its routes.
struct Parts {
    identity: Identity,
    settings: Settings,
    health: HealthRegistry,
    shutdown: Shutdown,
    registry: Registry,
    telemetry: Telemetry,
    faults: Option<FaultsHandle>,
    reload: ReloadHandle,
    clients: ClientRegistry,
}

async fn start(parts: Parts, routes: Router) -> Result<ServiceHandle, LaunchError> {
    let Parts {
        identity,
        settings,
        health,
        shutdown,
        registry,
        telemetry,
        faults,
        reload,
        clients,
    } = parts;
    let server_config = &settings.server;
    // Telemetry and faults wrap each route together: every `Router::layer` call makes axum
    // box the route once more, which costs two allocations and about 1,200 instructions per
    // request.
    let routes = routes.layer(
        ServiceBuilder::new()
            .layer(telemetry.traced)
            .option_layer(faults.as_ref().map(FaultsHandle::layer)),
    );
    let ops = ops_routes(&health, &identity, telemetry.metrics);
    let listener = bind(&server_config.host, server_config.port).await?;
    // `with_state` turns the router into its final form once, instead of axum re-applying
    // its layers on every request.
    let app = server::standard_stack(server_config, routes.with_state(()))
        .close_on_shutdown(shutdown.clone());
    let draining = shutdown.draining_token();
    let (serving, admin_serving) = if let Some(port) = server_config.admin_port {
        let host = server_config
            .admin_host
            .as_deref()
            .unwrap_or(&server_config.host);
        let admin_listener = bind(host, port).await?;
        let admin = admin_router(
            ops,
            server_config,
            AdminParts {
                log: telemetry.log,
                faults: faults.as_ref(),
                reload: &reload,
                clients: &clients,
            },
        );
        let serving = listener
            .serve(app, server_config, draining)
            .map_err(|source| bind_error(server_config.port, source))?;
        // Its own token: the admin port outlives the service port, until the hooks have run.
        let admin = admin_listener
            .serve(admin, server_config, CancellationToken::new())
            .map_err(|source| bind_error(port, source))?;
        (serving, Some(admin))
    } else {
        // The operational endpoints are answered ahead of the stack: never shed, timed out,
        // body-limited or fault-injected.
        let service = OpsFirst::new(ops.with_state(()), app);
        let serving = listener
            .serve(service, server_config, draining)
            .map_err(|source| bind_error(server_config.port, source))?;
        (serving, None)
    };
    let addr = serving.local_addr();
    let admin_addr = admin_serving.as_ref().map(Serving::local_addr);
    health.mark_started();
    let address = settings.discovery.advertise_address(addr)?;
    let instance = Instance::new(
        &identity.name,
        &identity.instance_id,
        &identity.version,
        address,
    )
    .with_metadata(settings.discovery.metadata.clone());
    let registration =
        PendingRegistration::when_ready(registry, instance, health.clone(), shutdown.clone());
    tracing::info!(
        service = %identity.name,
        instance = %identity.instance_id,
        %addr,
        admin = ?admin_addr,
        "service started"
    );
    let sequence = tokio::spawn(shutdown_sequence(Stoppable {
        settings,
        health: health.clone(),
        shutdown: shutdown.clone(),
        registration,
        serving,
        admin: admin_serving,
    }));
    Ok(ServiceHandle {
        faults,
        reload,
        clients,
        identity,
        addr,
        admin_addr,
        shutdown,
        health,
        sequence,
    })
}

/// Health, info and metrics: open to probes and scrapes.
fn ops_routes(
    health: &HealthRegistry,
    identity: &Identity,
    metrics: Option<crate::telemetry::MetricsHandle>,
) -> Router {
    health::routes(health.clone())
        .merge(server::info_routes(ServiceInfo {
            name: identity.name.clone(),
            version: identity.version.clone(),
            build: BuildInfo::current(),
            instance_id: identity.instance_id.clone(),
        }))
        .merge(metrics.map(metrics_routes).unwrap_or_default())
}

/// What the `/admin` endpoints act on.
struct AdminParts<'a> {
    log: Option<LogHandle>,
    faults: Option<&'a FaultsHandle>,
    reload: &'a ReloadHandle,
    clients: &'a ClientRegistry,
}

/// The admin port's routes: the operational endpoints, open to probes and scrapes, and,
/// only when an admin token is configured, the `/admin` endpoints behind it (log level,
/// configuration and reload, breakers and clients; `/admin/faults` only when fault
/// injection is enabled).
fn admin_router(ops: Router, config: &ServerConfig, parts: AdminParts<'_>) -> Router {
    let Some(token) = config.admin_token.clone() else {
        return ops.with_state(());
    };
    let mut admin = parts.log.map(admin_routes).unwrap_or_default();
    if let Some(faults) = parts.faults {
        admin = admin.merge(server::fault_routes(faults.clone()));
    }
    admin = admin
        .merge(server::config_routes(parts.reload.clone()))
        .merge(server::breaker_routes(parts.clients.clone()));
    ops.merge(server::require_admin_token(admin, token))
        .with_state(())
}
