//! The telemetry a service starts with: logs, metrics and trace export, each the chassis'
//! own unless the program already installed its own.
//!
//! A program that owns its globals (a test subscriber, Sentry, Datadog, its own `metrics`
//! recorder) keeps them: the service's logs and metrics go to what is there. What the
//! chassis then cannot offer is said once at start-up: with another subscriber, no
//! `/admin/log-level` and no OTLP export through the chassis; with another recorder, no
//! `/metrics` of the chassis' (the program exports its metrics its own way).

use super::{Identity, LaunchError};
use crate::config::Settings;
use crate::shutdown::Shutdown;
use crate::telemetry::logs::NonBlocking;
use crate::telemetry::metrics::ServiceScope;
use crate::telemetry::{
    LogHandle, MetricsHandle, TelemetryError, http::ServerTelemetryLayer, init_logging,
    install_prometheus,
};

/// The telemetry pieces a service mounts.
pub(super) struct Telemetry {
    /// The log filter's handle, when the chassis' subscriber is the global one.
    pub(super) log: Option<LogHandle>,
    /// This service's share of the metrics, when the chassis' recorder is the global one.
    pub(super) metrics: Option<MetricsHandle>,
    /// The server layer: spans, RED metrics, the access log.
    pub(super) traced: ServerTelemetryLayer,
}

impl Telemetry {
    /// Installs (or joins) the process's logging and metrics, and the service's trace
    /// export; the export is flushed by a shutdown hook.
    pub(super) fn start(
        settings: &Settings,
        identity: &Identity,
        shutdown: &Shutdown,
        scope: ServiceScope,
    ) -> Result<Self, LaunchError> {
        let rust_log = std::env::var("RUST_LOG").ok();
        let log = match init_logging(&settings.telemetry, rust_log.as_deref()) {
            Ok(log) => Some(log),
            Err(TelemetryError::SubscriberExists) => {
                tracing::info!(
                    "a tracing subscriber is already installed: logs go to it; \
                     no /admin/log-level, and trace export covers request and call spans only"
                );
                None
            }
            Err(error) => return Err(error.into()),
        };
        if let Some(writer) = log.as_ref().and_then(LogHandle::writer) {
            flush_logs_on_shutdown(writer, settings, shutdown);
        }
        let metrics = match install_prometheus() {
            Ok(metrics) => Some(metrics.for_service(scope)),
            Err(TelemetryError::RecorderExists) => {
                tracing::info!(
                    "a metrics recorder is already installed: metrics go to it; \
                     the chassis serves no /metrics"
                );
                None
            }
            Err(error) => return Err(error.into()),
        };
        let traced = ServerTelemetryLayer::from_config(&settings.telemetry);
        // With another subscriber, request and call spans are still exported (they do not go
        // through `tracing`); `otlp::install` warns that the handlers' spans are not.
        #[cfg(feature = "otlp")]
        let traced = export_traces(settings, identity, shutdown, traced)?;
        #[cfg(not(feature = "otlp"))]
        let _ = (identity, shutdown);
        Ok(Self {
            log,
            metrics,
            traced,
        })
    }
}

/// Keeps the log writer queueing while the service runs; a shutdown hook, registered before
/// the others so that it runs last, writes out what they logged. When the process's last
/// service has released it, later lines (`shutdown complete`) are written at once.
fn flush_logs_on_shutdown(writer: &NonBlocking, settings: &Settings, shutdown: &Shutdown) {
    let hold = writer.hold();
    let bound = settings.shutdown.hook_timeout.mul_f64(0.9);
    shutdown.on_shutdown("flush logs", move || async move {
        match tokio::task::spawn_blocking(move || hold.release(bound)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "shutdown: logs not flushed"),
            Err(error) => tracing::warn!(%error, "shutdown: the log flush failed"),
        }
    });
}

/// Installs the service's OTLP trace export when configured: the server layer exports
/// through it, and a shutdown hook flushes it.
#[cfg(feature = "otlp")]
fn export_traces(
    settings: &Settings,
    identity: &Identity,
    shutdown: &Shutdown,
    traced: ServerTelemetryLayer,
) -> Result<ServerTelemetryLayer, LaunchError> {
    let resource = crate::telemetry::otlp::ServiceResource {
        name: &identity.name,
        version: &identity.version,
        instance_id: &identity.instance_id,
    };
    let Some(guard) = crate::telemetry::otlp::install(&settings.telemetry, &resource)? else {
        return Ok(traced);
    };
    let traced = traced.otlp(&guard);
    // Within the hook's own bound, so the hook reports what happened rather than being cut.
    let bound = settings.shutdown.hook_timeout.mul_f64(0.9);
    shutdown.on_shutdown("flush traces", move || async move {
        if let Err(error) = guard.shutdown(bound).await {
            tracing::warn!(%error, "shutdown: traces not flushed");
        }
    });
    Ok(traced)
}
