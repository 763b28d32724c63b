//! [`SimulatedCluster`]: what a simulation's test drives and observes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::Request;

use super::super::network::Network;
use super::super::{ClusterError, capture};
use super::host::{Instance, Phase};
use super::http::{SimulatedReply, exchange};
use crate::health::HealthReport;

/// How long, in simulated time, an instance may take from start to registered.
const READY_BOUND: Duration = Duration::from_secs(30);
/// How long, in simulated time, a request of the test may take.
const REQUEST_BOUND: Duration = Duration::from_secs(60);

/// The services of a running [`Simulation`](super::Simulation), as its test sees them: it
/// sends requests, reads metrics, stops and restarts instances and breaks links, all in
/// simulated time.
///
/// Cloning is cheap; clones drive the same simulation (for concurrent callers the test
/// spawns with `tokio::task::spawn_local`: everything runs on one thread).
#[derive(Debug, Clone)]
pub struct SimulatedCluster {
    pub(super) network: Arc<Network>,
    /// Every instance, by service, in index order.
    pub(super) instances: Arc<BTreeMap<String, Vec<Arc<Instance>>>>,
    /// Lines each service had logged before the simulation started.
    pub(super) log_marks: Arc<BTreeMap<&'static str, usize>>,
}

impl SimulatedCluster {
    fn service(&self, service: &str) -> Result<&[Arc<Instance>], ClusterError> {
        self.instances
            .get(service)
            .map(Vec::as_slice)
            .ok_or_else(|| ClusterError::UnknownService(service.to_owned()))
    }

    fn instance(&self, service: &str, index: usize) -> Result<&Arc<Instance>, ClusterError> {
        self.service(service)?
            .get(index)
            .ok_or_else(|| ClusterError::NoInstance {
                service: service.to_owned(),
                index,
            })
    }

    /// The simulated address of instance `index` of `service`, while it runs.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownService`], or [`ClusterError::NoInstance`] when it is not
    /// running.
    pub fn instance_addr(&self, service: &str, index: usize) -> Result<SocketAddr, ClusterError> {
        match &*self.instance(service, index)?.phase.borrow() {
            Phase::Running { addr, .. } => Ok(*addr),
            _ => Err(ClusterError::NoInstance {
                service: service.to_owned(),
                index,
            }),
        }
    }

    /// The simulated address of the first running instance of `service`.
    ///
    /// # Errors
    ///
    /// As [`SimulatedCluster::instance_addr`].
    pub fn addr(&self, service: &str) -> Result<SocketAddr, ClusterError> {
        let count = self.service(service)?.len();
        (0..count)
            .find_map(|index| self.instance_addr(service, index).ok())
            .ok_or_else(|| ClusterError::NoInstance {
                service: service.to_owned(),
                index: 0,
            })
    }

    /// Sends `request` (its URI a path, such as `/api/items`) to the first running
    /// instance of `service` over a new simulated connection.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Endpoint`] when the exchange fails or takes over a minute of
    /// simulated time; as [`SimulatedCluster::addr`].
    pub async fn send(
        &self,
        service: &str,
        request: Request<Bytes>,
    ) -> Result<SimulatedReply, ClusterError> {
        exchange(self.addr(service)?, request, REQUEST_BOUND).await
    }

    /// `GET {path}` on the first running instance of `service`.
    ///
    /// # Errors
    ///
    /// As [`SimulatedCluster::send`].
    pub async fn get(&self, service: &str, path: &str) -> Result<SimulatedReply, ClusterError> {
        let request =
            Request::get(path)
                .body(Bytes::new())
                .map_err(|error| ClusterError::Endpoint {
                    url: path.to_owned(),
                    message: error.to_string(),
                })?;
        self.send(service, request).await
    }

    /// The first running instance of `service`'s `GET /metrics`.
    ///
    /// # Errors
    ///
    /// As [`SimulatedCluster::send`].
    pub async fn metrics(&self, service: &str) -> Result<String, ClusterError> {
        Ok(self.get(service, "/metrics").await?.body)
    }

    /// The health report (all probes) of instance `index` of `service`, while it runs.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownService`], or [`ClusterError::NoInstance`] when it is not
    /// running.
    pub async fn health(&self, service: &str, index: usize) -> Result<HealthReport, ClusterError> {
        let health = match &*self.instance(service, index)?.phase.borrow() {
            Phase::Running { health, .. } => health.clone(),
            _ => {
                return Err(ClusterError::NoInstance {
                    service: service.to_owned(),
                    index,
                });
            }
        };
        Ok(health.report(None).await)
    }

    /// The log lines (JSON) `service` wrote since the simulation started, all its instances
    /// together. Empty when the test program installed a `tracing` subscriber of its own
    /// before the first cluster or simulation started.
    pub fn logs(&self, service: &str) -> Vec<String> {
        let from = self.log_marks.get(service).copied().unwrap_or_default();
        capture::since(service, from)
    }

    /// Starts instance `index` of `service` (stopped by [`SimulatedCluster::stop`]) and
    /// waits until it is ready and registered.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Launch`] when it fails to start, [`ClusterError::NotReady`] when it
    /// does not register within 30 s of simulated time, [`ClusterError::NoInstance`] for an
    /// index the simulation does not have.
    pub async fn start(&self, service: &str, index: usize) -> Result<(), ClusterError> {
        let instance = self.instance(service, index)?;
        // A failed launch before this one is forgotten: this start waits for its own.
        instance.phase.send_if_modified(|phase| {
            let failed = matches!(phase, Phase::Failed);
            if failed {
                *phase = Phase::Stopped;
            }
            failed
        });
        instance.want_running.send_replace(true);
        let mut phase = instance.phase.subscribe();
        let ready = async {
            let launched = phase
                .wait_for(|phase| matches!(phase, Phase::Running { .. } | Phase::Failed))
                .await
                .map(|phase| phase.clone());
            let Ok(Phase::Running { instance_id, .. }) = launched else {
                return false;
            };
            let mut changes = self.network.changes();
            changes
                .wait_for(|_| self.network.is_registered(service, &instance_id))
                .await
                .is_ok()
        };
        if let Ok(true) = tokio::time::timeout(READY_BOUND, ready).await {
            return Ok(());
        }
        let failure = instance
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        Err(match failure {
            Some(source) => ClusterError::Launch {
                service: service.to_owned(),
                source,
            },
            None => ClusterError::NotReady {
                service: service.to_owned(),
                bound: READY_BOUND,
            },
        })
    }

    /// Stops instance `index` of `service` gracefully (deregistration first, then the drain
    /// and the stop, as in production) and waits until it has stopped; one still starting
    /// is stopped once it runs (and a [`start`](Self::start) waiting for it fails).
    ///
    /// # Errors
    ///
    /// [`ClusterError::NoInstance`] for an index the simulation does not have.
    pub async fn stop(&self, service: &str, index: usize) -> Result<(), ClusterError> {
        let instance = self.instance(service, index)?;
        instance.want_running.send_replace(false);
        let mut phase = instance.phase.subscribe();
        // One being launched is stopped as soon as it runs.
        let _ = phase
            .wait_for(|phase| matches!(phase, Phase::Stopped | Phase::Failed))
            .await;
        Ok(())
    }

    /// Stops instance `index` of `service` gracefully and starts it again.
    ///
    /// # Errors
    ///
    /// As [`SimulatedCluster::stop`] and [`SimulatedCluster::start`].
    pub async fn restart(&self, service: &str, index: usize) -> Result<(), ClusterError> {
        self.stop(service, index).await?;
        self.start(service, index).await
    }

    /// Cuts the network between every instance of `a` and every instance of `b`, both ways:
    /// what is sent is lost (turmoil's partition). Connections see timeouts, never an
    /// answer.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownService`].
    pub fn partition(&self, a: &str, b: &str) -> Result<(), ClusterError> {
        self.between(a, b, |a, b| turmoil::partition(a, b))
    }

    /// Undoes [`SimulatedCluster::partition`].
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownService`].
    pub fn repair(&self, a: &str, b: &str) -> Result<(), ClusterError> {
        self.between(a, b, |a, b| turmoil::repair(a, b))
    }

    /// Holds what is sent between `a` and `b`, both ways, until
    /// [`SimulatedCluster::release`]: a stalled link that loses nothing.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownService`].
    pub fn hold(&self, a: &str, b: &str) -> Result<(), ClusterError> {
        self.between(a, b, |a, b| turmoil::hold(a, b))
    }

    /// Delivers what [`SimulatedCluster::hold`] held, and lets the link flow again.
    ///
    /// # Errors
    ///
    /// [`ClusterError::UnknownService`].
    pub fn release(&self, a: &str, b: &str) -> Result<(), ClusterError> {
        self.between(a, b, |a, b| turmoil::release(a, b))
    }

    fn between(&self, a: &str, b: &str, change: impl Fn(&str, &str)) -> Result<(), ClusterError> {
        let (a, b) = (self.service(a)?, self.service(b)?);
        for from in a {
            for to in b {
                change(&from.host, &to.host);
            }
        }
        Ok(())
    }

    /// Simulated time since the simulation began.
    pub fn elapsed(&self) -> Duration {
        turmoil::sim_elapsed().unwrap_or_default()
    }
}
