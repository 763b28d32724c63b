//! Telemetry (placeholder until the telemetry branch lands).

mod config;

pub use config::TelemetryConfig;

/// Installs logging once per process from the `telemetry` section (placeholder).
pub(crate) fn init_from_settings(settings: &crate::config::Settings) {
    let level = settings
        .telemetry
        .log
        .level
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .try_init();
}
