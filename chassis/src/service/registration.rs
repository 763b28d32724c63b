//! Registration with discovery once the instance is ready, and deregistration first on
//! shutdown.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::discovery::{Instance, Registration, Registry};
use crate::health::{HealthRegistry, Probe, Status};
use crate::shutdown::Shutdown;

/// How often readiness is asked while waiting to register.
const READY_POLL: Duration = Duration::from_millis(100);
/// How long shutdown waits for a registration still in progress before abandoning it (a
/// lease it may have created then expires with its TTL).
const REGISTER_BOUND: Duration = Duration::from_secs(5);

/// A registration that happens when readiness first passes.
#[derive(Debug)]
pub(crate) struct PendingRegistration(JoinHandle<Option<Registration>>);

impl PendingRegistration {
    /// Registers `instance` as soon as readiness passes, unless shutdown begins first.
    pub(crate) fn when_ready(
        registry: Registry,
        instance: Instance,
        health: HealthRegistry,
        shutdown: Shutdown,
    ) -> Self {
        Self(tokio::spawn(async move {
            tokio::select! {
                biased;
                () = shutdown.triggered() => return None,
                () = ready(&health) => {}
            }
            match registry.register(instance).await {
                Ok(registration) => Some(registration),
                Err(error) => {
                    tracing::error!(%error, "registering with discovery failed");
                    None
                }
            }
        }))
    }

    /// Deregisters, if registered (first step of shutdown).
    pub(crate) async fn deregister(self) {
        let mut task = self.0;
        match tokio::time::timeout(REGISTER_BOUND, &mut task).await {
            Ok(Ok(Some(registration))) => {
                if let Err(error) = registration.deregister().await {
                    tracing::warn!(%error, "deregistering from discovery failed");
                }
            }
            Ok(_) => {}
            Err(_) => {
                task.abort();
                tracing::warn!("registration still in progress at shutdown: abandoned");
            }
        }
    }
}

async fn ready(health: &HealthRegistry) {
    loop {
        if health.report(Some(Probe::Readiness)).await.status != Status::Fail {
            return;
        }
        tokio::time::sleep(READY_POLL).await;
    }
}
