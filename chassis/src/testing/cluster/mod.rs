//! [`TestCluster`] and its builder: several services in one process, wired to each other.

mod builder;
mod recipe;

pub use builder::ClusterBuilder;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::capture;
use super::declared::Spec;
use super::http;
use super::network::{Network, Wiring};
use super::{ClusterError, Link};
use crate::health::HealthReport;
use crate::service::{ServiceHandle, ShutdownReport};
use recipe::{LaunchFn, Recipe, Sources};

/// How long an instance may take from start to registered (ready), unless told otherwise.
const READY_BOUND: Duration = Duration::from_secs(10);

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
    /// How long an instance may take from start to registered.
    ready_within: Duration,
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
        if let Ok(Ok(_)) = tokio::time::timeout(self.ready_within, registered).await {
            return Ok(handle);
        }
        self.stop_handle(handle).await;
        Err(ClusterError::NotReady {
            service: service.to_owned(),
            bound: self.ready_within,
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
