//! The shutdown sequence of a started service.

use super::ShutdownReport;
use super::registration::PendingRegistration;
use crate::config::Settings;
use crate::health::HealthRegistry;
use crate::server::Serving;
use crate::shutdown::{Sequence, Shutdown};

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

/// Waits for the trigger, then runs [`Sequence`] with the service's pieces: readiness fail,
/// and deregistration begins -> drain delay, deregistration running beside it -> the service
/// port stops accepting, in-flight requests finish -> cut at the grace deadline ->
/// deregistration finishes (bounded) -> hooks in reverse -> the admin port closes.
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
    let hook_timeout = settings.shutdown.hook_timeout;
    let mut sequence = Sequence::new(shutdown, &settings.shutdown)
        .health(&health)
        .deregister(registration.deregister())
        .stop(move |grace| async move { serving.stop(grace).await.cut_connections });
    if let Some(admin) = admin {
        sequence = sequence.after_hooks(async move {
            let cut = admin.stop(hook_timeout).await.cut_connections;
            if cut > 0 {
                tracing::warn!(
                    cut_connections = cut,
                    "shutdown: admin connections still open after the hooks were cut"
                );
            }
            cut
        });
    }
    sequence.run().await
}
