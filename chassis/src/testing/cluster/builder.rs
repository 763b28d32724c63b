//! [`ClusterBuilder`]: declares a [`TestCluster`]'s services and how they are configured.

use std::path::PathBuf;
use std::time::Duration;

use super::super::capture;
use super::super::declared::Declared;
use super::super::network::{Network, Wiring};
use super::recipe::{LaunchFn, Source, Sources, launch};
use super::{READY_BOUND, Slot, TestCluster};
use crate::service::Microservice;
use crate::testing::ClusterError;

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
    /// How long an instance may take from start to registered; `None`: the default.
    ready_within: Option<Duration>,
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

    /// How long each instance may take from start to ready and registered before the
    /// cluster gives up on it (default: 10 s; a demo whose configuration may need longer
    /// sets more).
    pub fn ready_within(mut self, bound: Duration) -> Self {
        self.ready_within = Some(bound);
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
    /// ([`Launcher::from_process`](crate::service::Launcher::from_process)): its `./config`
    /// directory (or `APP_CONFIG_DIR`), the profile from `APP_PROFILE` and its own
    /// environment variables (`CATALOG__SERVER__PORT` and the like). Each instance then binds the host and port its configuration says
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
            ready_within: self.ready_within.unwrap_or(READY_BOUND),
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
