//! The `telemetry` configuration section (placeholder).

use serde::{Deserialize, Serialize};

/// `telemetry`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// `telemetry.log`.
    pub log: LogConfig,
}

/// `telemetry.log`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `json` or `pretty`.
    pub format: Option<String>,
    /// Filter directive.
    pub level: Option<String>,
}
