//! [`ServiceHandle`]: a running service, its addresses and its shutdown.

use std::net::SocketAddr;

use tokio::task::JoinHandle;

use super::Identity;
use crate::health::HealthRegistry;
use crate::server::FaultsHandle;
use crate::shutdown::{HookReport, Shutdown};

/// What the shutdown sequence did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Connections still open at the grace deadline, cut.
    pub cut_connections: usize,
    /// How the hooks ended.
    pub hooks: HookReport,
}

/// A running service started by [`spawn`](super::spawn) or a [`Launcher`](super::Launcher).
#[derive(Debug)]
pub struct ServiceHandle {
    pub(crate) faults: Option<FaultsHandle>,
    pub(crate) identity: Identity,
    pub(crate) addr: SocketAddr,
    pub(crate) admin_addr: Option<SocketAddr>,
    pub(crate) shutdown: Shutdown,
    pub(crate) health: HealthRegistry,
    pub(crate) sequence: JoinHandle<ShutdownReport>,
}

impl ServiceHandle {
    /// Name, version and instance id.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The bound service address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound admin address, when `server.admin_port` is set.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Where health, metrics and info are served: the admin address or the service one.
    pub fn ops_addr(&self) -> SocketAddr {
        self.admin_addr.unwrap_or(self.addr)
    }

    /// The service's shutdown handle (trigger it to begin the sequence).
    pub fn shutdown_handle(&self) -> &Shutdown {
        &self.shutdown
    }

    /// Fault injection of the service's own routes, changeable while it runs; `None` unless
    /// `faults.enabled`.
    pub fn faults(&self) -> Option<&FaultsHandle> {
        self.faults.as_ref()
    }

    /// The service's health registry.
    pub fn health(&self) -> &HealthRegistry {
        &self.health
    }

    /// Begins the shutdown sequence and waits for it to end.
    pub async fn shutdown(self) -> ShutdownReport {
        self.shutdown.trigger();
        self.stopped().await
    }

    /// Waits for the shutdown sequence (begun by anyone) to end.
    pub async fn stopped(self) -> ShutdownReport {
        self.sequence.await.unwrap_or_else(|error| {
            tracing::error!(%error, "the shutdown sequence failed");
            ShutdownReport::default()
        })
    }
}
