//! [`TestCluster`] and its builder: several services in one process, wired to each other.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::capture;
use super::declared::{Declared, Spec};
use super::http;
use super::network::{Network, Wiring};
use super::{ClusterError, Link};
use crate::discovery::{BoxFuture, Registry};
use crate::health::HealthReport;
use crate::service::{LaunchError, Launcher, Microservice, ServiceHandle, ShutdownReport};

/// How long an instance may take from start to registered (ready).
const READY_BOUND: Duration = Duration::from_secs(10);

/// Starts one instance of a service type with the cluster's registry and configuration.
type LaunchFn = fn(Registry, Recipe) -> BoxFuture<'static, Result<ServiceHandle, LaunchError>>;

/// Where every instance's configuration comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Source {
    /// The service's embedded defaults, on a free loopback port, draining briefly: a test.
    #[default]
    Defaults,
    /// What a deployed process reads, ports and drain included: a demo.
    Process,
}

/// The configuration sources every service of a cluster shares.
#[derive(Debug, Clone, Default)]
struct Sources {
    source: Source,
    /// Environment variables read besides (or, with [`Source::Defaults`], instead of) the
    /// process's.
    env: Vec<(String, String)>,
    /// The configuration directory, instead of `./config` or `APP_CONFIG_DIR`.
    dir: Option<PathBuf>,
}

/// How one instance is configured: the cluster's sources and its service's own keys.
#[derive(Debug, Clone)]
struct Recipe {
    sources: Sources,
    defaults: Vec<(String, String)>,
    settings: Vec<(String, String)>,
}

/// Declares the services of a [`TestCluster`], in start order (callees before callers).
///
/// Two options turn a test cluster into a demo's (`cargo run -p shop` starts this way):
/// [`direct`](Self::direct) wires callers to each instance's own address, with no proxy,
/// and [`from_process`](Self::from_process) configures each service as a deployed process
/// is, fixed ports included.
///
/// ```no_run
/// # use chassis::service::Microservice;
/// # async fn demo<Catalog: Microservice>() -> Result<(), chassis::testing::ClusterError> {
/// use chassis::testing::TestCluster;
///
/// // CATALOG__SERVER__PORT, ./config/default.toml and the like decide where it listens.
/// let demo = TestCluster::builder()
///     .service::<Catalog>()
///     .set_default(Catalog::NAME, "shutdown.drain_delay", "250ms")
///     .direct()
///     .from_process()
///     .start()
///     .await?;
/// println!("catalog on {}", demo.addr("catalog")?);
/// demo.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct ClusterBuilder {
    declared: Declared<LaunchFn>,
    direct: bool,
    sources: Sources,
}

impl ClusterBuilder {
    /// Adds the service `S` with one instance. Each instance starts from `S`'s defaults (its
    /// embedded `config/default.toml`; no file or environment variable is read), on a free
    /// loopback port, with a short drain delay (100 ms) and grace period (5 s); with
    /// [`from_process`](Self::from_process), from what a deployed process reads instead.
    pub fn service<S: Microservice>(mut self) -> Self {
        self.declared.add(S::NAME, launch::<S>);
        self
    }

    /// Starts `count` instances of `service` instead of one.
    pub fn instances(mut self, service: &str, count: usize) -> Self {
        self.declared.instances(service, count);
        self
    }

    /// Sets a dotted configuration key of `service`, above its defaults; it applies to
    /// every instance, restarted ones too.
    #[allow(clippy::needless_pass_by_value)] // taking values by value reads best at call sites
    pub fn set(mut self, service: &str, key: impl Into<String>, value: impl ToString) -> Self {
        self.declared.set(service, key.into(), value.to_string());
        self
    }

    /// Sets a default for a dotted configuration key of `service`: above its embedded
    /// defaults (and the cluster's own, such as the 100 ms drain delay), below its files and
    /// environment variables, so that those still win. It applies to every instance.
    #[allow(clippy::needless_pass_by_value)] // taking values by value reads best at call sites
    pub fn set_default(
        mut self,
        service: &str,
        key: impl Into<String>,
        value: impl ToString,
    ) -> Self {
        self.declared
            .set_default(service, key.into(), value.to_string());
        self
    }

    /// Wires callers directly: a caller discovering `catalog` is handed each catalog
    /// instance's own address, as a real registry would, instead of a link proxy's. No
    /// proxy sits between services, so there is no fault to switch:
    /// [`TestCluster::link`] answers [`ClusterError::DirectlyWired`]. For a demo, or a test
    /// that wants no extra hop.
    pub fn direct(mut self) -> Self {
        self.direct = true;
        self
    }

    /// Configures each service as a deployed process is configured
    /// ([`Launcher::from_process`]): its `./config` directory (or `APP_CONFIG_DIR`), the
    /// profile from `APP_PROFILE` and its own environment variables (`CATALOG__SERVER__PORT`
    /// and the like). Each instance then binds the host and port its configuration says
    /// (the service's default port, not a free one) and keeps its own drain delay and grace
    /// period; [`set_default`](Self::set_default) gives demo defaults that files and
    /// environment still override, [`set`](Self::set) keys that nothing overrides.
    ///
    /// Logs go where each service's configuration sends them (the chassis' subscriber):
    /// a cluster started this way installs no capture, and [`TestCluster::logs`] is empty
    /// unless an earlier cluster of the process installed it. Discovery stays the
    /// cluster's: the `discovery` backend of the configuration is not used.
    pub fn from_process(mut self) -> Self {
        self.sources.source = Source::Process;
        self
    }

    /// Environment variables every service reads, above its files and below
    /// [`set`](Self::set); each reads only those named `{SERVICE}__...`. With
    /// [`from_process`](Self::from_process) they are read after the process's and win over
    /// them: a test passes variables here instead of changing the process's environment.
    /// Without it they are the only ones read, and the cluster's free loopback port still
    /// wins over `{SERVICE}__SERVER__PORT`.
    pub fn env<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.sources.env.extend(
            vars.into_iter()
                .map(|(name, value)| (name.into(), value.into())),
        );
        self
    }

    /// Reads every service's `default.toml` (and, with
    /// [`from_process`](Self::from_process), its `APP_PROFILE` file) from `dir` instead of
    /// `./config` or `APP_CONFIG_DIR`. The services share the directory: keys of their own
    /// settings apply to each that has them.
    pub fn config_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.sources.dir = Some(dir.into());
        self
    }

    /// Starts every instance of every service in the order they were added, each waiting
    /// until the previous one is ready and registered.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownService`] or [`ClusterError::DuplicateService`] for a mistake
    /// in the declaration; [`ClusterError::Launch`] or [`ClusterError::NotReady`] when an
    /// instance does not start (those already started are shut down).
    pub async fn start(self) -> Result<TestCluster, ClusterError> {
        let specs = self.declared.checked()?;
        if self.sources.source == Source::Defaults {
            capture::install();
        }
        let wiring = if self.direct {
            Wiring::Direct
        } else {
            Wiring::Proxied
        };
        let network = Network::new(specs.iter().map(|spec| spec.name.to_owned()), wiring);
        let mut cluster = TestCluster {
            log_marks: specs
                .iter()
                .map(|spec| (spec.name, capture::count(spec.name)))
                .collect(),
            network,
            wiring,
            sources: self.sources,
            services: Vec::with_capacity(specs.len()),
        };
        for spec in specs {
            let count = spec.instances;
            cluster.services.push(Slot {
                spec,
                running: Vec::with_capacity(count),
            });
            let index = cluster.services.len() - 1;
            for _ in 0..count {
                if let Err(error) = cluster.start_instance(index).await {
                    cluster.shutdown().await;
                    return Err(error);
                }
            }
        }
        Ok(cluster)
    }
}

/// Several services running in one process for a test, wired by an in-process discovery
/// registry: each caller reaches each callee instance through the TCP proxy of their
/// [`Link`], where faults are switched on and off (or, wired
/// [`direct`](ClusterBuilder::direct), at the instance's own address).
///
/// See the [module documentation](super) for an example. Dropping the cluster begins every
/// instance's graceful shutdown in the background; [`shutdown`](Self::shutdown) waits for
/// it, callers first.
#[derive(Debug)]
pub struct TestCluster {
    network: Arc<Network>,
    wiring: Wiring,
    /// Where new and restarted instances read their configuration.
    sources: Sources,
    services: Vec<Slot>,
    /// Lines each service had logged before this cluster started.
    log_marks: BTreeMap<&'static str, usize>,
}

/// A service of the cluster and its running instances.
#[derive(Debug)]
struct Slot {
    spec: Spec<LaunchFn>,
    running: Vec<ServiceHandle>,
}

impl TestCluster {
    /// Declares a cluster.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    fn slot(&self, service: &str) -> Result<usize, ClusterError> {
        self.services
            .iter()
            .position(|slot| slot.spec.name == service)
            .ok_or_else(|| ClusterError::UnknownService(service.to_owned()))
    }

    /// Instance `index` of `service` (in start order; a restarted one keeps its index).
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownService`], [`ClusterError::NoInstance`].
    pub fn instance(&self, service: &str, index: usize) -> Result<&ServiceHandle, ClusterError> {
        self.services[self.slot(service)?]
            .running
            .get(index)
            .ok_or_else(|| ClusterError::NoInstance {
                service: service.to_owned(),
                index,
            })
    }

    /// How many instances of `service` run.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownService`].
    pub fn instances(&self, service: &str) -> Result<usize, ClusterError> {
        Ok(self.services[self.slot(service)?].running.len())
    }

    /// The address of `service`'s first instance, for calls from the test itself (no link,
    /// no fault).
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownService`], or [`ClusterError::NoInstance`] when none runs.
    pub fn addr(&self, service: &str) -> Result<SocketAddr, ClusterError> {
        Ok(self.instance(service, 0)?.addr())
    }

    /// The link from `caller` to `callee`, to put faults on. It exists (and keeps its fault)
    /// whether or not the caller has called yet.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownService`] for a name not in the cluster;
    /// [`ClusterError::DirectlyWired`] when the cluster was wired
    /// [`direct`](ClusterBuilder::direct): no proxy, no fault.
    pub fn link(&self, caller: &str, callee: &str) -> Result<Link, ClusterError> {
        for service in [caller, callee] {
            if !self.network.knows(service) {
                return Err(ClusterError::UnknownService(service.to_owned()));
            }
        }
        if self.wiring == Wiring::Direct {
            return Err(ClusterError::DirectlyWired {
                caller: caller.to_owned(),
                callee: callee.to_owned(),
            });
        }
        Ok(Link::new(
            caller,
            callee,
            self.network.fault(caller, callee),
        ))
    }

    /// `GET /metrics` of `service` (its first instance): the Prometheus text of its series.
    ///
    /// # Errors
    ///
    /// As [`addr`](Self::addr), and [`ClusterError::Endpoint`] when it does not answer 200.
    pub async fn metrics(&self, service: &str) -> Result<String, ClusterError> {
        let addr = self.instance(service, 0)?.ops_addr();
        match http::get(addr, "/metrics").await? {
            (status, body) if status.is_success() => Ok(body),
            (status, _) => Err(ClusterError::Endpoint {
                url: format!("http://{addr}/metrics"),
                message: format!("answered {status}"),
            }),
        }
    }

    /// The health report (all probes) of instance `index` of `service`.
    ///
    /// # Errors
    ///
    /// As [`instance`](Self::instance).
    pub async fn health(&self, service: &str, index: usize) -> Result<HealthReport, ClusterError> {
        Ok(self.instance(service, index)?.health().report(None).await)
    }

    /// The log lines (JSON) `service` wrote since the cluster started, all its instances
    /// together: the lines logged while its code ran (start-up, requests, its clients).
    /// Empty when the test program installed a `tracing` subscriber of its own before the
    /// first cluster started: its lines go there instead.
    pub fn logs(&self, service: &str) -> Vec<String> {
        let from = self.log_marks.get(service).copied().unwrap_or_default();
        capture::since(service, from)
    }

    /// Stops instance `index` of `service` gracefully (it leaves discovery first, drains,
    /// then stops) and removes it: later instances move down one index.
    ///
    /// # Errors
    ///
    /// As [`instance`](Self::instance).
    pub async fn stop(
        &mut self,
        service: &str,
        index: usize,
    ) -> Result<ShutdownReport, ClusterError> {
        self.instance(service, index)?;
        let slot = self.slot(service)?;
        let handle = self.services[slot].running.remove(index);
        Ok(self.stop_handle(handle).await)
    }

    /// Replaces instance `index` of `service`: stops it gracefully, then starts a new one in
    /// its place and waits until it is ready and registered. Restarting each index in turn
    /// is a rolling restart.
    ///
    /// # Errors
    ///
    /// As [`instance`](Self::instance); [`ClusterError::Launch`] or
    /// [`ClusterError::NotReady`] when the new instance does not start.
    pub async fn restart(&mut self, service: &str, index: usize) -> Result<(), ClusterError> {
        self.instance(service, index)?;
        let slot = self.slot(service)?;
        let old = self.services[slot].running.remove(index);
        self.stop_handle(old).await;
        let new = self.launch(slot).await?;
        self.services[slot].running.insert(index, new);
        Ok(())
    }

    /// Starts or stops instances of `service` until `count` run: new ones are added (and
    /// awaited until registered) at the end, the last ones are stopped first.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownService`]; [`ClusterError::Launch`] or
    /// [`ClusterError::NotReady`] when a new instance does not start.
    pub async fn scale(&mut self, service: &str, count: usize) -> Result<(), ClusterError> {
        let slot = self.slot(service)?;
        while self.services[slot].running.len() < count {
            self.start_instance(slot).await?;
        }
        while self.services[slot].running.len() > count {
            if let Some(handle) = self.services[slot].running.pop() {
                self.stop_handle(handle).await;
            }
        }
        Ok(())
    }

    /// Stops every service, the last added (the callers) first, each one's instances
    /// together, and waits for all of it.
    pub async fn shutdown(mut self) {
        while let Some(slot) = self.services.pop() {
            let stops = slot.running.into_iter().map(|handle| {
                let network = self.network.clone();
                async move {
                    let id = handle.identity().instance_id.clone();
                    handle.shutdown().await;
                    network.forget(slot.spec.name, &id);
                }
            });
            futures_util::future::join_all(stops).await;
        }
    }

    async fn start_instance(&mut self, slot: usize) -> Result<(), ClusterError> {
        let handle = self.launch(slot).await?;
        self.services[slot].running.push(handle);
        Ok(())
    }

    /// Starts one instance of the service in `slot` and waits until it is registered.
    async fn launch(&self, slot: usize) -> Result<ServiceHandle, ClusterError> {
        let spec = &self.services[slot].spec;
        let service = spec.name;
        let registry = self.network.registry_for(service);
        let recipe = Recipe {
            sources: self.sources.clone(),
            defaults: spec.defaults.clone(),
            settings: spec.settings.clone(),
        };
        let handle =
            (spec.launch)(registry, recipe)
                .await
                .map_err(|source| ClusterError::Launch {
                    service: service.to_owned(),
                    source,
                })?;
        let id = handle.identity().instance_id.clone();
        let mut changes = self.network.changes();
        let registered = changes.wait_for(|_| self.network.is_registered(service, &id));
        if let Ok(Ok(_)) = tokio::time::timeout(READY_BOUND, registered).await {
            return Ok(handle);
        }
        self.stop_handle(handle).await;
        Err(ClusterError::NotReady {
            service: service.to_owned(),
            bound: READY_BOUND,
        })
    }

    async fn stop_handle(&self, handle: ServiceHandle) -> ShutdownReport {
        let service = handle.identity().name.clone();
        let id = handle.identity().instance_id.clone();
        let report = handle.shutdown().await;
        self.network.forget(&service, &id);
        report
    }
}

/// Starts an instance of `S` with the cluster's registry: on a free loopback port, or
/// where its configuration says with [`Source::Process`].
fn launch<S: Microservice>(
    registry: Registry,
    recipe: Recipe,
) -> BoxFuture<'static, Result<ServiceHandle, LaunchError>> {
    Box::pin(async move {
        let Recipe {
            sources,
            defaults,
            settings,
        } = recipe;
        let mut launcher = match sources.source {
            Source::Defaults => Launcher::<S>::new()?
                .set_default("shutdown.drain_delay", "100ms")
                .set_default("shutdown.grace_period", "5s")
                .set("server.host", "127.0.0.1")
                .set("server.port", 0),
            Source::Process => Launcher::<S>::from_process()?,
        };
        launcher = launcher.env(sources.env).registry(registry);
        if let Some(dir) = sources.dir {
            launcher = launcher.dir(dir);
        }
        for (key, value) in defaults {
            launcher = launcher.set_default(key, value);
        }
        for (key, value) in settings {
            launcher = launcher.set(key, value);
        }
        launcher.spawn().await
    })
}
