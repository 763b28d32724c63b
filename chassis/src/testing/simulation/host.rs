//! One simulated instance: a turmoil host whose software starts the service when the test
//! wants it running and stops it gracefully when it no longer does, as often as asked.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use crate::discovery::{BoxFuture, Registry};
use crate::health::HealthRegistry;
use crate::service::{LaunchError, Launcher, Microservice, ServiceHandle};

/// Starts one instance of a service type with the simulation's registry and settings.
pub(super) type LaunchFn = fn(
    Registry,
    Vec<(String, String)>,
    Vec<(String, String)>,
) -> BoxFuture<'static, Result<ServiceHandle, LaunchError>>;

/// Where an instance is.
#[derive(Debug, Clone)]
pub(super) enum Phase {
    /// Not started, or stopped.
    Stopped,
    /// Being launched.
    Starting,
    /// Serving at this (simulated) address; registered once ready.
    Running {
        /// The address callers reach it at.
        addr: SocketAddr,
        /// Its instance id in discovery.
        instance_id: String,
        /// Its health checks.
        health: HealthRegistry,
    },
    /// Its launch failed (the error waits in [`Instance::failure`]).
    Failed,
}

/// The test's side of one instance: what it wants, and what the instance reports.
#[derive(Debug)]
pub(super) struct Instance {
    /// The turmoil host name: `<service>-<index>`.
    pub(super) host: String,
    pub(super) want_running: watch::Sender<bool>,
    pub(super) phase: watch::Sender<Phase>,
    /// Why the last launch failed, for the test that asked for it.
    pub(super) failure: Mutex<Option<LaunchError>>,
}

impl Instance {
    pub(super) fn new(service: &str, index: usize) -> Arc<Self> {
        Arc::new(Self {
            host: format!("{service}-{index}"),
            want_running: watch::channel(false).0,
            phase: watch::channel(Phase::Stopped).0,
            failure: Mutex::new(None),
        })
    }
}

/// What a host's software needs to (re)start its instance.
#[derive(Debug, Clone)]
pub(super) struct Software {
    pub(super) instance: Arc<Instance>,
    pub(super) launch: LaunchFn,
    pub(super) registry: Registry,
    /// Keys below the configuration's sources, then above every source.
    pub(super) defaults: Vec<(String, String)>,
    pub(super) settings: Vec<(String, String)>,
}

impl Software {
    /// Runs for the whole simulation: starts the instance whenever the test wants it
    /// running, and shuts it down gracefully (deregistration, drain, stop) when it no longer
    /// does.
    pub(super) async fn run(self) -> turmoil::Result {
        let ip = turmoil::lookup(self.instance.host.as_str());
        let mut wanted = self.instance.want_running.subscribe();
        loop {
            if wanted.wait_for(|running| *running).await.is_err() {
                return Ok(());
            }
            self.instance.phase.send_replace(Phase::Starting);
            let mut settings = self.settings.clone();
            settings.push(("discovery.advertise".to_owned(), ip.to_string()));
            let launched = (self.launch)(self.registry.clone(), self.defaults.clone(), settings);
            let handle = match launched.await {
                Ok(handle) => handle,
                Err(error) => {
                    *self
                        .instance
                        .failure
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(error);
                    self.instance.phase.send_replace(Phase::Failed);
                    self.instance.want_running.send_replace(false);
                    continue;
                }
            };
            self.instance.phase.send_replace(Phase::Running {
                addr: SocketAddr::new(ip, handle.addr().port()),
                instance_id: handle.identity().instance_id.clone(),
                health: handle.health().clone(),
            });
            if wanted.wait_for(|running| !*running).await.is_err() {
                return Ok(());
            }
            handle.shutdown().await;
            self.instance.phase.send_replace(Phase::Stopped);
        }
    }
}

/// Starts an instance of `S` on the simulated network: every address of its host, a port
/// of the simulator's choosing, the simulation's registry, no signal handler or file
/// watcher (a simulated host has neither).
pub(super) fn launch<S: Microservice>(
    registry: Registry,
    defaults: Vec<(String, String)>,
    settings: Vec<(String, String)>,
) -> BoxFuture<'static, Result<ServiceHandle, LaunchError>> {
    Box::pin(async move {
        let mut launcher = Launcher::<S>::new()?
            .set_default("shutdown.drain_delay", "100ms")
            .set_default("shutdown.grace_period", "5s")
            .set("server.host", "0.0.0.0")
            .set("server.port", 0)
            .set("reload.sighup", false)
            .set("reload.watch_files", false)
            .registry(registry);
        for (key, value) in defaults {
            launcher = launcher.set_default(key, value);
        }
        for (key, value) in settings {
            launcher = launcher.set(key, value);
        }
        launcher.spawn().await
    })
}
