//! [`ServiceHandle`]: a running service, its addresses and its shutdown.

use std::net::SocketAddr;

use tokio::task::JoinHandle;

use super::Identity;
use crate::client::ClientRegistry;
use crate::config::reload::ReloadHandle;
use crate::health::HealthRegistry;
use crate::server::FaultsHandle;
use crate::shutdown::{Shutdown, ShutdownReport};

/// A running service started by [`spawn`](super::spawn) or a [`Launcher`](super::Launcher).
///
/// # Dropping the handle
///
/// Dropping the handle begins the graceful shutdown, as [`Shutdown::trigger`] does, and the
/// sequence runs to completion in the background on the runtime: readiness fails, the drain
/// delay, in-flight requests finish, the hooks run. Why: the handle is how a program stops
/// the service or waits for it. Once it is gone nobody can, and a service left serving
/// would keep its ports and its registration in discovery until the process ends, unseen;
/// the usual way to lose a handle is an early return (`?`, a failed assertion, a second
/// service that failed to start), where stopping is what the owner wanted. So it behaves
/// like `CancellationToken::drop_guard`, not like tokio's `JoinHandle`, which detaches.
///
/// To wait for the end, call [`shutdown`](Self::shutdown) or [`stopped`](Self::stopped):
/// a runtime that ends right after the drop cuts the sequence short. Dropping the future
/// of `stopped` before it completes drops the handle too, so it begins shutdown (a
/// `tokio::time::timeout` around it that fires, for one).
#[derive(Debug)]
pub struct ServiceHandle {
    pub(crate) faults: Option<FaultsHandle>,
    pub(crate) reload: ReloadHandle,
    pub(crate) clients: ClientRegistry,
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

    /// Reloads the configuration, and reads the configuration in force (see
    /// [`crate::config::reload`]).
    pub fn reload_handle(&self) -> &ReloadHandle {
        &self.reload
    }

    /// The clients the service made (through [`Context::client`](super::Context::client)),
    /// and its gRPC channels (`Context::grpc`, feature `grpc`).
    pub fn clients(&self) -> &ClientRegistry {
        &self.clients
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
    pub async fn stopped(mut self) -> ShutdownReport {
        (&mut self.sequence).await.unwrap_or_else(|error| {
            tracing::error!(%error, "the shutdown sequence failed");
            ShutdownReport::default()
        })
    }
}

impl Drop for ServiceHandle {
    /// Begins the graceful shutdown (see [Dropping the handle](ServiceHandle#dropping-the-handle)).
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}
