//! The shutdown sequence of a started service.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::ShutdownReport;
use super::registration::PendingRegistration;
use crate::config::Settings;
use crate::health::HealthRegistry;
use crate::server::Serving;
use crate::shutdown::Shutdown;

/// What a started service is stopped with.
pub(super) struct Stoppable {
    pub(super) settings: Settings,
    pub(super) health: HealthRegistry,
    pub(super) shutdown: Shutdown,
    pub(super) registration: PendingRegistration,
    /// The service port: the service's routes (and the operational ones without an admin port).
    pub(super) serving: Serving,
    /// The admin port, when configured.
    pub(super) admin: Option<Serving>,
}

/// Waits for the trigger, then: readiness fail, and deregistration begins -> drain delay,
/// deregistration running beside it -> the service port stops accepting, in-flight requests
/// finish -> cut at the grace deadline -> deregistration finishes (bounded) -> hooks in
/// reverse -> the admin port closes.
///
/// The admin port serves probes and scrapes until the hooks have run, so a last scrape
/// sees the final counters; readiness keeps answering fail meanwhile.
pub(super) async fn shutdown_sequence(parts: Stoppable) -> ShutdownReport {
    let Stoppable {
        settings,
        health,
        shutdown,
        registration,
        serving,
        admin,
    } = parts;
    shutdown.triggered().await;
    health.mark_stopping();
    // Beside the drain delay, not before it: a slow or unreachable registry holds back nothing.
    let deregistration = tokio::spawn(registration.deregister());
    let timing = &settings.shutdown;
    tracing::info!(drain_delay = ?timing.drain_delay, "shutdown: readiness is failing, draining");
    tokio::time::sleep(timing.drain_delay).await;
    shutdown.start_draining();
    let grace = timing.grace_period;
    let mut cut_connections = serving.stop(grace).await.cut_connections;
    if cut_connections > 0 {
        tracing::warn!(
            cut_connections,
            grace_period = ?grace,
            "shutdown: connections still open at the grace deadline were cut"
        );
    }
    finish(deregistration, timing.hook_timeout).await;
    let hooks = shutdown.hooks().run(timing.hook_timeout).await;
    if let Some(admin) = admin {
        let admin_cut = admin.stop(timing.hook_timeout).await.cut_connections;
        if admin_cut > 0 {
            tracing::warn!(
                cut_connections = admin_cut,
                "shutdown: admin connections still open after the hooks were cut"
            );
        }
        cut_connections += admin_cut;
    }
    tracing::info!("shutdown complete");
    ShutdownReport {
        cut_connections,
        hooks,
    }
}

/// Waits at most `bound` for a deregistration still running once the server has stopped.
async fn finish(deregistration: JoinHandle<()>, bound: Duration) {
    let abort = deregistration.abort_handle();
    if tokio::time::timeout(bound, deregistration).await.is_err() {
        abort.abort();
        tracing::warn!(
            ?bound,
            "shutdown: deregistering from discovery did not finish; the registry drops the \
             instance when its lease expires"
        );
    }
}
