//! Metrics: the Prometheus recorder, `GET /metrics`, and the metric names.
//!
//! ```no_run
//! use chassis::telemetry::metrics::{install_prometheus, metrics_routes};
//!
//! let handle = install_prometheus().unwrap(); // once per process; later calls share it
//! let app: axum::Router = axum::Router::new().merge(metrics_routes(handle));
//! ```
//!
//! Everything recorded through the `metrics` facade (by chassis layers or by the service)
//! appears at `/metrics`. Histograms whose names end in `_duration_seconds` use the
//! OpenTelemetry HTTP buckets ([`names::DURATION_BUCKETS`]); process metrics are read from
//! `/proc` when `/metrics` is rendered.

pub mod names;
mod scope;

pub(crate) use scope::ScopedExecutor;
pub use scope::{InScope, SERVICE_LABEL, ServiceLabels, ServiceScope};

use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::TelemetryError;
use super::process;

/// The Prometheus text format content type.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often histogram samples are folded into buckets between scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Renders what the process records (or one service's share of it), plus process metrics.
#[derive(Clone, Debug)]
pub struct MetricsHandle {
    prometheus: PrometheusHandle,
    service: Option<&'static str>,
}

impl MetricsHandle {
    /// Wraps a handle of a recorder built elsewhere (for example a test's local recorder).
    pub fn new(prometheus: PrometheusHandle) -> Self {
        Self {
            prometheus,
            service: None,
        }
    }

    /// The same recorder, rendering only the series of `service` (labelled
    /// `service_name="<name>"`) and those of no service in particular.
    #[must_use]
    pub fn for_service(&self, service: ServiceScope) -> Self {
        Self {
            prometheus: self.prometheus.clone(),
            service: Some(service.name()),
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let all = self.prometheus.render();
        let mut out = match self.service {
            Some(service) => scope::for_service(&all, service),
            None => all,
        };
        process::render(&mut out);
        if let Some(dropped) = crate::telemetry::logs::dropped_lines() {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            // The process's, like the process_* series: one log output for every service.
            let _ = write!(
                out,
                "# HELP chassis_log_lines_dropped_total Log lines dropped because the log \
                 output did not keep up.\n\
                 # TYPE chassis_log_lines_dropped_total counter\n\
                 chassis_log_lines_dropped_total {dropped}\n"
            );
        }
        out
    }

    /// The underlying exporter handle.
    pub fn prometheus(&self) -> &PrometheusHandle {
        &self.prometheus
    }
}

static GLOBAL: Mutex<Option<MetricsHandle>> = Mutex::new(None);

/// The recorder builder chassis uses: OpenTelemetry buckets for `*_duration_seconds`.
///
/// # Errors
///
/// Never in practice (the bucket list is not empty).
pub fn prometheus_builder() -> Result<PrometheusBuilder, TelemetryError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_duration_seconds".to_owned()),
            &names::DURATION_BUCKETS,
        )
        .map_err(TelemetryError::Prometheus)
}

/// Installs the Prometheus recorder, wrapped in [`ServiceLabels`], as the process's global
/// `metrics` recorder, once; later calls return the same handle. Starts a small thread that
/// folds histogram samples every 5 s so memory stays bounded between scrapes.
///
/// # Errors
///
/// [`TelemetryError::RecorderExists`] when another global recorder is already installed (the
/// service runtime then records into that one and serves no `/metrics` of its own).
pub fn install_prometheus() -> Result<MetricsHandle, TelemetryError> {
    let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = global.as_ref() {
        return Ok(handle.clone());
    }
    let recorder = prometheus_builder()?.build_recorder();
    let prometheus = recorder.handle();
    metrics::set_global_recorder(ServiceLabels::new(recorder))
        .map_err(|_| TelemetryError::RecorderExists)?;
    describe();
    let upkeep = prometheus.clone();
    // Detached on purpose: it lives as long as the global recorder, i.e. the process.
    let _thread = std::thread::Builder::new()
        .name("chassis-metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            }
        });
    let handle = MetricsHandle::new(prometheus);
    *global = Some(handle.clone());
    Ok(handle)
}

/// Registers HELP text and units of the chassis metrics with the current recorder.
pub fn describe() {
    metrics::describe_histogram!(
        names::HTTP_SERVER_REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Duration of HTTP server requests, to the response head."
    );
    metrics::describe_histogram!(
        names::HTTP_CLIENT_REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Duration of HTTP client requests."
    );
    metrics::describe_histogram!(
        names::RPC_SERVER_CALL_DURATION,
        metrics::Unit::Seconds,
        "Duration of gRPC calls served, to the end of the response stream."
    );
    metrics::describe_histogram!(
        names::RPC_CLIENT_CALL_DURATION,
        metrics::Unit::Seconds,
        "Duration of gRPC calls made, retries included, to the end of the response stream."
    );
    metrics::describe_gauge!(
        names::HTTP_SERVER_ACTIVE_REQUESTS,
        "Number of HTTP server requests in flight."
    );
    metrics::describe_counter!(
        "chassis_server_rejected_total",
        "Requests answered by the server stack itself, by reason (shed, timeout, body_limit, headers, deadline, panic, error)."
    );
    metrics::describe_counter!(
        "chassis_server_connections_limited_total",
        "Times accepting paused because server.max_connections connections were open."
    );
    metrics::describe_counter!(
        "chassis_admin_unauthorized_total",
        "Admin requests refused for a missing or wrong admin token."
    );
    metrics::describe_gauge!(
        "chassis_outlier_ejected_endpoints",
        "Endpoints of a client's current set whose breaker is not closed (ejected)."
    );
    metrics::describe_counter!(
        "chassis_outlier_ejections_total",
        "Times an endpoint's breaker of a client opened."
    );
    metrics::describe_counter!(
        "chassis_client_outcomes_total",
        "Outbound calls (scope call) and attempts (scope attempt) by verdict kind: timeout, transport and status are charged to the dependency; deadline, bulkhead, no_endpoint, invalid_request, breaker_open and cancelled are not."
    );
    metrics::describe_gauge!(
        "chassis_breaker_state",
        "Circuit breaker state: 1 for the current state of each breaker, 0 for the others."
    );
    metrics::describe_counter!(
        "chassis_breaker_transitions_total",
        "Circuit breaker state transitions."
    );
    metrics::describe_counter!(
        "chassis_breaker_rejected_total",
        "Calls refused by an open circuit breaker."
    );
    metrics::describe_counter!(
        "chassis_retry_attempts_total",
        "Attempts of outbound calls, by outcome."
    );
    metrics::describe_counter!(
        "chassis_retry_budget_exhausted_total",
        "Retries not made because the retry budget was spent."
    );
    metrics::describe_counter!(
        "chassis_bulkhead_rejected_total",
        "Calls rejected by a bulkhead, by reason."
    );
    metrics::describe_gauge!(
        "chassis_discovery_endpoints",
        "Endpoints known for a service."
    );
    metrics::describe_counter!(
        "chassis_discovery_errors_total",
        "Failed discovery lookups or watches; the last good endpoint set is kept."
    );
    metrics::describe_counter!(
        "chassis_config_reloads_total",
        "Configuration reloads, by result: applied, needs_restart, unchanged, refused."
    );
}

/// `GET /metrics` in the Prometheus text format.
pub fn metrics_routes(handle: MetricsHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move { ([(CONTENT_TYPE, TEXT_FORMAT)], handle.render()).into_response() }
        }),
    )
}
