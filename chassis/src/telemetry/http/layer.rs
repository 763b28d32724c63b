//! [`ServerTelemetryLayer`]: configuration and the `Layer` impl.

use std::sync::Arc;

use tower::Layer;

use super::ServerTelemetry;
use super::cache::{Instance, Shared};
use crate::telemetry::config::{AccessLog, TelemetryConfig};
use crate::telemetry::link::Export;

/// Traces, measures and logs every inbound request in one pass.
///
/// Apply it with `axum::Router::layer` (not around the router) so the route template is
/// known: see the [module docs](super).
#[derive(Clone, Debug)]
pub struct ServerTelemetryLayer {
    shared: Arc<Shared>,
    access: AccessLog,
    export: Export,
}

impl Default for ServerTelemetryLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerTelemetryLayer {
    /// The layer with the access log at its default level, `DEBUG` (as
    /// `telemetry.log.access` defaults).
    pub fn new() -> Self {
        Self {
            shared: Arc::default(),
            access: AccessLog::default(),
            export: Export::default(),
        }
    }

    /// The layer as the `telemetry` section configures it.
    pub fn from_config(cfg: &TelemetryConfig) -> Self {
        Self::new().access_log(cfg.log.access)
    }

    /// Level of the access-log event, or [`AccessLog::Off`].
    #[must_use]
    pub fn access_log(mut self, access: AccessLog) -> Self {
        self.access = access;
        self
    }

    /// Exports this layer's spans with the provider of `guard`'s service (its
    /// `service.name`); without it they go to the first service of the process that exports.
    #[cfg(feature = "otlp")]
    #[must_use]
    pub fn otlp(mut self, guard: &crate::telemetry::otlp::OtlpGuard) -> Self {
        self.export = Export {
            slot: Some(guard.slot()),
        };
        self
    }
}

impl<S> Layer<S> for ServerTelemetryLayer {
    type Service = ServerTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerTelemetry {
            inner,
            instance: Arc::new(Instance::new(Arc::clone(&self.shared))),
            access: self.access,
            export: self.export,
        }
    }
}
