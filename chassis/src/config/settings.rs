//! [`Settings`]: all chassis-owned sections together.

use std::collections::BTreeMap;

use config::{Map, Value};
use serde::Serialize;

use super::collect::{deserialize_all, lookup};
use super::source::origin_of;
use super::{ConfigProblem, DiscoveryConfig, FaultsConfig, Origin, ServerConfig, ShutdownConfig};
use crate::resilience::config::ClientResilienceConfig;
use crate::telemetry::TelemetryConfig;

/// The chassis-owned configuration sections.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct Settings {
    /// `server`.
    pub server: ServerConfig,
    /// `shutdown`.
    pub shutdown: ShutdownConfig,
    /// `telemetry`.
    pub telemetry: TelemetryConfig,
    /// `discovery`.
    pub discovery: DiscoveryConfig,
    /// `faults`.
    pub faults: FaultsConfig,
    /// `clients.<name>`: resilience of each outbound client.
    pub clients: BTreeMap<String, ClientResilienceConfig>,
}

impl Settings {
    /// Takes the chassis sections out of `table`, recording every problem.
    pub(crate) fn from_table(
        table: &mut Map<String, Value>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Self {
        let snapshot = Value::new(None, config::ValueKind::Table(table.clone()));
        let settings = Self {
            server: section(table, "server", problems),
            shutdown: section(table, "shutdown", problems),
            telemetry: section(table, "telemetry", problems),
            discovery: section(table, "discovery", problems),
            faults: section(table, "faults", problems),
            clients: section(table, "clients", problems),
        };
        settings.validate(&snapshot, problems);
        settings
    }

    fn validate(&self, snapshot: &Value, problems: &mut Vec<ConfigProblem>) {
        let mut bad = |key: &str, message: &str| {
            let path: Vec<String> = key.split('.').map(str::to_owned).collect();
            problems.push(ConfigProblem {
                key: key.to_owned(),
                origin: lookup(snapshot, &path).map_or(Origin::Defaults, origin_of),
                message: message.to_owned(),
            });
        };
        let rate = self.faults.error_rate;
        if !(0.0..=1.0).contains(&rate) {
            bad("faults.error_rate", "expected a share from 0.0 to 1.0");
        }
        let otlp = &self.telemetry.otlp;
        if !(0.0..=1.0).contains(&otlp.sample_ratio) {
            bad(
                "telemetry.otlp.sample_ratio",
                "expected a share from 0.0 to 1.0",
            );
        }
        let endpoint_ok = otlp.endpoint.as_deref().is_none_or(|e| {
            e.parse::<http::Uri>()
                .is_ok_and(|uri| uri.scheme().is_some() && uri.host().is_some())
        });
        if !endpoint_ok {
            bad(
                "telemetry.otlp.endpoint",
                "expected a URL such as http://127.0.0.1:4317",
            );
        }
        if self.server.max_concurrent_requests == 0 {
            bad("server.max_concurrent_requests", "expected at least 1");
        }
        for (key, duration) in [
            ("server.request_timeout", self.server.request_timeout),
            (
                "server.header_read_timeout",
                self.server.header_read_timeout,
            ),
            ("server.idle_timeout", self.server.idle_timeout),
            ("server.send_timeout", self.server.send_timeout),
        ] {
            if duration.is_zero() {
                bad(key, "expected a duration above zero");
            }
        }
        if let Some(admin) = self.server.admin_port
            && admin != 0
            && admin == self.server.port
        {
            bad(
                "server.admin_port",
                "expected a port other than server.port",
            );
        }
        if self.server.max_header_size.bytes() < 8 * 1024 {
            bad("server.max_header_size", "expected at least 8KiB");
        }
        for (key, message) in self.discovery.problems() {
            bad(&format!("discovery.{key}"), &message);
        }
        for (name, client) in &self.clients {
            if let Err(invalid) = client.validate() {
                for problem in invalid.problems() {
                    let message = format!("expected {}, got {}", problem.expected, problem.value);
                    bad(&format!("clients.{name}.{}", problem.key), &message);
                }
            }
        }
    }
}

fn section<T: serde::de::DeserializeOwned + Default>(
    table: &mut Map<String, Value>,
    key: &str,
    problems: &mut Vec<ConfigProblem>,
) -> T {
    match table.remove(key) {
        None => T::default(),
        Some(value) => deserialize_all(key, value, problems).unwrap_or_default(),
    }
}
