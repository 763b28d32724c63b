//! Telemetry (placeholder until the telemetry branch lands).

mod config;

pub use config::TelemetryConfig;
