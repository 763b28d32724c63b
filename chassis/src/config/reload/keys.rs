//! Which keys change live and which need a restart.

use crate::config::settings::CHASSIS_SECTIONS;

/// The keys of `clients.<name>` a running client takes: its timeouts, retries, breakers and
/// bulkhead. Its `url`, `tls` and `http2` shape its connections and need a restart.
const LIVE_CLIENT_KEYS: [&str; 6] = [
    "timeout",
    "attempt_timeout",
    "retry",
    "breaker",
    "outlier",
    "bulkhead",
];

/// What decides whether a key is live in this process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LiveKeys {
    /// `faults.enabled` at start: only then are the faults' values live.
    pub(crate) faults: bool,
    /// The static discovery backend at start: only then are its lists live.
    pub(crate) static_discovery: bool,
    /// `RUST_LOG` unset at start: it wins over `telemetry.log.level`, which is then not live.
    pub(crate) log_level: bool,
}

impl LiveKeys {
    /// Whether a change of `key` takes effect while the service runs.
    pub(crate) fn is_live(self, key: &str) -> bool {
        let mut parts = key.split('.');
        let section = parts.next().unwrap_or_default();
        if !CHASSIS_SECTIONS.contains(&section) {
            return true; // the service's own: delivered through `Context::watch_config`
        }
        match section {
            "telemetry" => self.log_level && key == "telemetry.log.level",
            "faults" => self.faults && matches!(key, "faults.latency" | "faults.error_rate"),
            "discovery" => self.static_discovery && key.starts_with("discovery.static."),
            "clients" => parts
                .nth(1)
                .is_some_and(|part| LIVE_CLIENT_KEYS.contains(&part)),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_and_restart_keys() {
        let keys = LiveKeys {
            faults: true,
            static_discovery: true,
            log_level: true,
        };
        for live in [
            "greeting",
            "db.pool",
            "telemetry.log.level",
            "faults.error_rate",
            "discovery.static.catalog",
            "clients.catalog.timeout",
            "clients.catalog.breaker.failure_rate_threshold",
            "clients.catalog.outlier.window.size",
        ] {
            assert!(keys.is_live(live), "{live}");
        }
        for restart in [
            "server.port",
            "server.admin_token",
            "shutdown.grace_period",
            "telemetry.log.format",
            "faults.enabled",
            "discovery.backend",
            "clients.catalog.url",
            "clients.catalog.tls.ca_file",
            "clients.catalog.http2",
            "reload.poll_interval",
        ] {
            assert!(!keys.is_live(restart), "{restart}");
        }
        let off = LiveKeys {
            faults: false,
            static_discovery: false,
            log_level: false,
        };
        assert!(!off.is_live("telemetry.log.level"), "RUST_LOG set");
        assert!(!off.is_live("faults.error_rate"));
        assert!(!off.is_live("discovery.static.catalog"));
    }
}
