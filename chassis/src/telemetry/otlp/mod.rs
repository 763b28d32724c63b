//! Trace export over OTLP (feature `otlp`): each request's server span, and the spans below
//! it, sent to an OpenTelemetry collector over gRPC or HTTP/protobuf.
//!
//! ```no_run
//! use std::time::Duration;
//! use chassis::telemetry::{self, TelemetryConfig, http::ServerTelemetryLayer, otlp};
//!
//! # async fn demo() -> Result<(), telemetry::TelemetryError> {
//! let mut cfg = TelemetryConfig::default();
//! cfg.otlp.endpoint = Some("http://127.0.0.1:4317".to_owned());
//! telemetry::init_logging(&cfg, None)?; // the OTel layer joins the subscriber here
//! let service = otlp::ServiceResource { name: "catalog", version: "1.0.0", instance_id: "catalog-1" };
//! let guard = otlp::install(&cfg, &service)?; // None when no endpoint is configured
//! let layer = ServerTelemetryLayer::from_config(&cfg);
//! let layer = match &guard { Some(g) => layer.otlp(g), None => layer };
//! // ... serve with `layer`, then at shutdown (the service runtime does this in a hook):
//! if let Some(guard) = guard {
//!     guard.shutdown(Duration::from_secs(5)).await?;
//! }
//! # Ok(()) }
//! ```
//!
//! # Why
//!
//! Logs answer "what happened in this service"; a trace answers "where did the time of this
//! request go, across services". The chassis already has a trace id and a span id per
//! request (from `traceparent` or fresh) and prints them in every log line; exporting the
//! server span with exactly those ids lets an operator jump from a log line to the trace.
//!
//! # How
//!
//! - The server layer makes each request's SERVER span, and the client each attempt's CLIENT
//!   span, directly through the SDK (not as `tracing` spans): no log formatting, no field
//!   conversion. Without export the request path pays one relaxed atomic load.
//! - [`init_logging`](crate::telemetry::init_logging) adds a `tracing-opentelemetry` layer
//!   to the global subscriber when the configuration it gets has `telemetry.otlp.endpoint`:
//!   the spans handlers make with `tracing` are exported as children of the request's span.
//! - [`install`] builds the service's tracer provider: batch span processor, the exporter of
//!   `telemetry.otlp.protocol`, resource `service.name`, `service.version`,
//!   `service.instance.id`, `deployment.environment`, a parent-based ratio sampler.
//! - [`ServerTelemetryLayer::otlp`](crate::telemetry::http::ServerTelemetryLayer::otlp) ties
//!   the server layer to that provider: several services in one process each export with
//!   their own resource through the one global subscriber.
//! - [`OtlpGuard::shutdown`] flushes the spans still queued and stops the exporter, bounded.

mod exporter;
mod route;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

pub(crate) use route::{client_span, is_active, server_span};

use super::TelemetryError;
use super::config::TelemetryConfig;
use crate::config::redact::redact_url;

/// Who exports: the resource attributes of one service instance.
#[derive(Clone, Copy, Debug)]
pub struct ServiceResource<'a> {
    /// `service.name`.
    pub name: &'a str,
    /// `service.version`.
    pub version: &'a str,
    /// `service.instance.id`.
    pub instance_id: &'a str,
}

/// Set once a subscriber was built with the OpenTelemetry layer.
static LAYER_BUILT: AtomicBool = AtomicBool::new(false);

/// The `tracing-opentelemetry` layer when `cfg` has an endpoint (`None` costs nothing).
pub(crate) fn layer<S>(cfg: &TelemetryConfig) -> Option<OpenTelemetryLayer<S, route::Router>>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    cfg.otlp.endpoint.as_ref()?;
    LAYER_BUILT.store(true, Ordering::Relaxed);
    Some(
        tracing_opentelemetry::layer()
            .with_tracer(route::Router)
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false),
    )
}

/// Installs the tracer provider of one service when `telemetry.otlp.endpoint` is set.
///
/// Call it inside a tokio runtime, after [`init_logging`](crate::telemetry::init_logging)
/// got a configuration with an endpoint (the service runtime does both). Returns `None`
/// when no endpoint is configured. When the process's subscriber was installed without the
/// OpenTelemetry layer, request and call spans are still exported, the spans handlers make
/// with `tracing` are not (a warning says so).
///
/// # Errors
///
/// [`TelemetryError::Otlp`] when the exporter cannot be built (a malformed endpoint),
/// [`TelemetryError::OtlpRuntime`] outside a tokio runtime.
pub fn install(
    cfg: &TelemetryConfig,
    service: &ServiceResource<'_>,
) -> Result<Option<OtlpGuard>, TelemetryError> {
    let Some(endpoint) = cfg.otlp.endpoint.as_deref() else {
        return Ok(None);
    };
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| TelemetryError::OtlpRuntime)?;
    // Logged without the credentials a URL may carry (`http://***@host:4317`).
    let shown = redact_url(endpoint);
    if !LAYER_BUILT.load(Ordering::Relaxed) {
        tracing::warn!(
            service = service.name,
            endpoint = %shown,
            "spans made with `tracing` inside handlers are not exported: the process's \
             subscriber was installed without telemetry.otlp.endpoint (the first service's \
             configuration decides); request and call spans are"
        );
    }
    let provider = exporter::provider(
        &cfg.otlp,
        endpoint,
        service,
        cfg.environment.as_deref(),
        runtime,
    )?;
    let slot = route::register(provider.tracer("chassis"));
    route::name(service.name, slot);
    tracing::info!(
        service = service.name,
        endpoint = %shown,
        protocol = ?cfg.otlp.protocol,
        sample_ratio = cfg.otlp.sample_ratio,
        "exporting traces over OTLP"
    );
    Ok(Some(OtlpGuard { provider, slot }))
}

/// A service's tracer provider; [`shutdown`](Self::shutdown) flushes and stops it.
///
/// Dropping the guard without `shutdown` leaves the provider exporting until the process
/// ends (spans still queued at exit may be lost).
#[derive(Debug)]
#[must_use = "call `shutdown` at the end so the last spans are exported"]
pub struct OtlpGuard {
    provider: SdkTracerProvider,
    slot: u32,
}

impl OtlpGuard {
    /// The provider's slot in the router (for the server layer).
    pub(crate) fn slot(&self) -> u32 {
        self.slot
    }

    /// Flushes the queued spans and shuts the exporter down, within `timeout`. Spans of this
    /// service ended afterwards are not recorded.
    ///
    /// # Errors
    ///
    /// [`TelemetryError::OtlpShutdown`] when the flush failed or did not finish in time.
    pub async fn shutdown(self, timeout: Duration) -> Result<(), TelemetryError> {
        route::unregister(self.slot);
        let provider = self.provider;
        // The batch processor's shutdown blocks until its thread has exported.
        let done = tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(timeout));
        match tokio::time::timeout(timeout + Duration::from_millis(100), done).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(TelemetryError::OtlpShutdown(e.to_string())),
            Ok(Err(join)) => Err(TelemetryError::OtlpShutdown(join.to_string())),
            Err(_) => Err(TelemetryError::OtlpShutdown(format!(
                "not finished within {timeout:?}"
            ))),
        }
    }
}
