//! The `telemetry` configuration section.
//!
//! ```toml
//! [telemetry]
//! environment = "staging"
//!
//! [telemetry.log]
//! format = "json"      # or "pretty"
//! level = "info,hyper=warn"
//! access = "debug"     # or "info", "off"
//!
//! [telemetry.otlp]     # export needs the `otlp` feature (on by default)
//! endpoint = "http://127.0.0.1:4317"
//! protocol = "grpc"    # or "http-protobuf"
//! sample_ratio = 1.0
//! batch_delay = "5s"
//! ```

use serde::{Deserialize, Serialize};

/// The `telemetry` section: logs, access log, trace export.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Logging: format, filter and access log.
    pub log: LogConfig,
    /// `deployment.environment` (for example `production`), added to exported resources.
    pub environment: Option<String>,
    /// Trace export over OTLP (takes effect with the `otlp` feature).
    pub otlp: OtlpConfig,
}

/// The `telemetry.log` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Output format of log lines.
    pub format: LogFormat,
    /// An `EnvFilter` directive such as `info` or `info,chassis=debug`; `RUST_LOG` wins when set.
    pub level: String,
    /// Level of the one access-log event per request, or `off`.
    pub access: AccessLog,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::default(),
            level: "info".to_owned(),
            access: AccessLog::default(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (for development); a line inside a request ends with its
    /// `trace_id`, `span_id` and `request_id`.
    #[default]
    Pretty,
    /// One JSON object per line; inside a request with its `trace_id`, `span_id` and
    /// `request_id`.
    Json,
}

/// Level of the access-log event emitted once per request.
///
/// The default is `debug`: hidden by the default `info` filter, so a service at `INFO` writes
/// no line (and makes no syscall) per request; RED metrics cover what the access log would.
/// Set `info` to see one line per request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLog {
    /// At `INFO`.
    Info,
    /// At `DEBUG` (hidden by the default `info` filter).
    #[default]
    Debug,
    /// No access-log event.
    Off,
}

/// The `telemetry.otlp` section (export needs the `otlp` feature).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpConfig {
    /// Collector endpoint, for example `http://127.0.0.1:4317`; export is off when unset.
    pub endpoint: Option<String>,
    /// Wire protocol.
    pub protocol: OtlpProtocol,
    /// Share of new root traces that are sampled, `0.0..=1.0` (parent-based).
    pub sample_ratio: f64,
    /// Longest time a finished span waits in the batch before it is sent.
    #[serde(with = "crate::config::duration")]
    pub batch_delay: std::time::Duration,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            protocol: OtlpProtocol::default(),
            sample_ratio: 1.0,
            batch_delay: std::time::Duration::from_secs(5),
        }
    }
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OtlpProtocol {
    /// OTLP over gRPC (port 4317 by convention).
    #[default]
    Grpc,
    /// OTLP over HTTP with protobuf bodies (port 4318 by convention).
    HttpProtobuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let cfg = TelemetryConfig::default();
        assert_eq!(cfg.log.format, LogFormat::Pretty);
        assert_eq!(cfg.log.level, "info");
        assert_eq!(cfg.log.access, AccessLog::Debug);
        assert!(cfg.otlp.endpoint.is_none());
    }

    #[test]
    fn parses_full_section() {
        let cfg: TelemetryConfig = serde_json::from_value(serde_json::json!({
            "environment": "prod",
            "log": { "format": "json", "level": "debug", "access": "off" },
            "otlp": {
                "endpoint": "http://collector:4318",
                "protocol": "http-protobuf",
                "sample_ratio": 0.25
            }
        }))
        .expect("valid section");
        assert_eq!(cfg.log.format, LogFormat::Json);
        assert_eq!(cfg.log.access, AccessLog::Off);
        assert_eq!(cfg.environment.as_deref(), Some("prod"));
        assert_eq!(cfg.otlp.protocol, OtlpProtocol::HttpProtobuf);
        assert!((cfg.otlp.sample_ratio - 0.25).abs() < f64::EPSILON);
    }

    #[test]
    fn rejects_unknown_keys() {
        let err = serde_json::from_value::<TelemetryConfig>(
            serde_json::json!({"log": {"formt": "json"}}),
        )
        .expect_err("unknown key");
        assert!(err.to_string().contains("formt"), "{err}");
    }
}
