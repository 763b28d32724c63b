//! [`Settings`]: all chassis-owned sections together.

use std::collections::BTreeMap;

use config::{Map, Value};
use serde::Serialize;

use super::collect::{deserialize_all, lookup, shown};
use super::source::origin_of;
use super::{
    ConfigProblem, DiscoveryConfig, FaultsConfig, Origin, ReloadConfig, ServerConfig,
    ShutdownConfig,
};
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
    /// `clients.<name>`: resilience of each outbound client, under the name with `-` as `_`
    /// (find one with [`Settings::client`]).
    pub clients: BTreeMap<String, ClientResilienceConfig>,
    /// `reload`: the sources that change configuration while the service runs.
    pub reload: ReloadConfig,
}

/// The top-level keys the chassis owns; every other one is the service's own.
pub(crate) const CHASSIS_SECTIONS: [&str; 7] = [
    "server",
    "shutdown",
    "telemetry",
    "discovery",
    "faults",
    "clients",
    "reload",
];

impl Settings {
    /// The configuration of the client named `name` (`order-history` and `order_history`
    /// name the same one), if any is set.
    pub fn client(&self, name: &str) -> Option<&ClientResilienceConfig> {
        self.clients.get(&canonical_client_name(name))
    }

    /// Takes the chassis sections out of `table`, recording every problem.
    pub(crate) fn from_table(
        table: &mut Map<String, Value>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Self {
        merge_client_spellings(table);
        let snapshot = Value::new(None, config::ValueKind::Table(table.clone()));
        let settings = Self {
            server: section(table, "server", problems),
            shutdown: section(table, "shutdown", problems),
            telemetry: section(table, "telemetry", problems),
            discovery: section(table, "discovery", problems),
            faults: section(table, "faults", problems),
            clients: section(table, "clients", problems),
            reload: section(table, "reload", problems),
        };
        settings.validate(&snapshot, problems);
        settings
    }

    fn validate(&self, snapshot: &Value, problems: &mut Vec<ConfigProblem>) {
        let mut bad = |key: &str, message: &str| {
            // A value that did not even parse was reported already; its stand-in is not judged.
            if problems.iter().any(|p| p.key == key) {
                return;
            }
            let path: Vec<String> = key.split('.').map(str::to_owned).collect();
            let found = lookup(snapshot, &path);
            problems.push(ConfigProblem {
                key: key.to_owned(),
                origin: found.map_or(Origin::Defaults, origin_of),
                message: shown(key, found, message),
            });
        };
        let rate = self.faults.error_rate;
        if !(0.0..=1.0).contains(&rate) {
            bad("faults.error_rate", "expected a share from 0.0 to 1.0");
        }
        if let Err(error) = crate::telemetry::logs::check_directive(&self.telemetry.log.level) {
            bad(
                "telemetry.log.level",
                &format!("expected a log filter: {error}"),
            );
        }
        #[cfg(not(feature = "etcd"))]
        if self.reload.etcd_prefix.is_some() {
            bad(
                "reload.etcd_prefix",
                "set, but reading configuration from etcd needs the cargo feature etcd of chassis",
            );
        }
        if self.reload.etcd_prefix.is_some()
            && self.reload.etcd_endpoints.is_empty()
            && self.discovery.etcd.endpoints.is_empty()
        {
            bad(
                "reload.etcd_endpoints",
                "expected at least one URL (or discovery.etcd.endpoints)",
            );
        }
        if self.reload.poll_interval < MIN_TIMEOUT {
            bad(
                "reload.poll_interval",
                "expected a duration of at least 1ms",
            );
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
        self.validate_server(&mut bad);
        self.validate_faults(&mut bad);
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

impl Settings {
    /// `server`: every limit within a range that makes sense, checked before binding.
    fn validate_server(&self, bad: &mut impl FnMut(&str, &str)) {
        let server = &self.server;
        for (key, value, range) in [
            (
                "server.max_concurrent_requests",
                server.max_concurrent_requests,
                1..=1_000_000,
            ),
            (
                "server.max_connections",
                server.max_connections,
                1..=1_000_000,
            ),
            ("server.max_headers", server.max_headers, 8..=1_000),
        ] {
            if !range.contains(&value) {
                bad(
                    key,
                    &format!("expected {} to {}", range.start(), range.end()),
                );
            }
        }
        for (key, duration) in [
            ("server.request_timeout", server.request_timeout),
            ("server.header_read_timeout", server.header_read_timeout),
            ("server.idle_timeout", server.idle_timeout),
            ("server.send_timeout", server.send_timeout),
            ("server.body_read_timeout", server.body_read_timeout),
            (
                "server.grpc.health_watch_interval",
                server.grpc.health_watch_interval,
            ),
        ] {
            if duration < MIN_TIMEOUT || duration > MAX_TIMEOUT {
                bad(key, "expected a duration from 1ms to 24h");
            }
        }
        if server.request_timeout >= MIN_TIMEOUT && server.deadline_floor >= server.request_timeout
        {
            bad(
                "server.deadline_floor",
                "expected a duration below server.request_timeout",
            );
        }
        if let Some(admin) = server.admin_port
            && admin != 0
            && admin == server.port
        {
            bad(
                "server.admin_port",
                "expected a port other than server.port",
            );
        }
        let header = server.max_header_size.bytes();
        if !(8 * 1024..=1024 * 1024).contains(&header) {
            bad("server.max_header_size", "expected 8KiB to 1MiB");
        }
        if server.max_body_size.bytes() > 1 << 30 {
            bad("server.max_body_size", "expected at most 1GiB");
        }
        if let Some(token) = &server.admin_token {
            // The value is never named: only its length is judged.
            if token.expose().chars().count() < MIN_ADMIN_TOKEN_CHARS {
                bad(
                    "server.admin_token",
                    "expected at least 16 characters (the value is not shown)",
                );
            } else if server.admin_port.is_none() {
                bad(
                    "server.admin_token",
                    "set, but /admin is served only on server.admin_port, which is not set",
                );
            }
        }
    }

    /// `faults`: values set while injection is off would be silently ignored.
    fn validate_faults(&self, bad: &mut impl FnMut(&str, &str)) {
        if !self.faults.enabled && self.faults.is_active() {
            bad(
                "faults.enabled",
                "expected true when faults.latency or faults.error_rate is set",
            );
        }
    }
}

/// The shortest timeout a `server` key accepts.
const MIN_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1);
/// The longest timeout a `server` key accepts.
const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(86_400);
/// The shortest admin token accepted.
const MIN_ADMIN_TOKEN_CHARS: usize = 16;

/// One spelling per client: `-` and `_` in a `clients.<name>` key are the same character (an
/// environment variable can only spell `order-history` as `ORDER_HISTORY`), so a section
/// under a dashed name merges into the underscored one. Where both set a key, the underscored
/// spelling wins, as an environment variable wins over a file.
pub(crate) fn merge_client_spellings(table: &mut Map<String, Value>) {
    let Some(Value {
        kind: config::ValueKind::Table(clients),
        ..
    }) = table.get_mut("clients")
    else {
        return;
    };
    let dashed: Vec<String> = clients
        .keys()
        .filter(|k| k.contains('-'))
        .cloned()
        .collect();
    for name in dashed {
        let Some(from) = clients.remove(&name) else {
            continue;
        };
        match clients.get_mut(&canonical_client_name(&name)) {
            Some(into) => merge_under(into, from),
            None => {
                clients.insert(canonical_client_name(&name), from);
            }
        }
    }
}

/// Copies into `into` every key of `from` that `into` does not set, recursively.
fn merge_under(into: &mut Value, from: Value) {
    if let (config::ValueKind::Table(into), config::ValueKind::Table(from)) =
        (&mut into.kind, from.kind)
    {
        for (key, value) in from {
            match into.get_mut(&key) {
                Some(existing) => merge_under(existing, value),
                None => {
                    into.insert(key, value);
                }
            }
        }
    }
}

/// The spelling of a client's name its configuration is found under: `-` as `_`.
pub(crate) fn canonical_client_name(name: &str) -> String {
    name.replace('-', "_")
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
