//! Settings for `clients.<name>`: `timeout`, `attempt_timeout`, `retry.*`, `bulkhead.*`,
//! `breaker.*`, and what the client calls: a base `url` instead of a discovered service, over
//! cleartext or TLS (`tls.*`).
//!
//! ```
//! use chassis::resilience::config::ClientResilienceConfig;
//!
//! let config: ClientResilienceConfig = toml::from_str(r#"
//!     timeout = "1s"
//!     attempt_timeout = "300ms"
//!     [retry]
//!     max_attempts = 2
//!     max_replay_body = "16KiB"
//!     [bulkhead]
//!     max_concurrent = 32
//! "#)?;
//! config.validate()?;
//! assert_eq!(config.retry.max_replay_body, 16 * 1024);
//!
//! // Any HTTP API: a base URL (its path prefixes every route), over TLS with a private CA.
//! let api: ClientResilienceConfig = toml::from_str(r#"
//!     url = "https://api.example.com/v1"
//!     [tls]
//!     ca_file = "/etc/chassis/ca.pem"
//! "#)?;
//! api.validate()?;
//! assert!(api.uses_tls());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every struct is plain data with defaults (documented per field and in
//! `docs/resilience.md`); [`ClientResilienceConfig::validate`] reports every value out of range
//! at once.

use std::path::PathBuf;
use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

use super::breaker::{BreakerConfig, WindowConfig, WindowKind};
use crate::client::base_url::BaseUrl;
use crate::config::redact::redact_url;

/// Everything resilience for one client (`clients.<name>`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientResilienceConfig {
    /// Overall timeout of a call, retries and backoff included; `""` for none. Default `"2s"`.
    #[serde(with = "crate::config::duration::option")]
    pub timeout: Option<Duration>,
    /// Timeout of each attempt; `""` for none. Default none.
    #[serde(with = "crate::config::duration::option")]
    pub attempt_timeout: Option<Duration>,
    /// Retries, backoff and the retry budget.
    pub retry: RetryConfig,
    /// The bulkhead; absent (the default) means none.
    pub bulkhead: Option<BulkheadConfig>,
    /// The client's circuit breaker: judges whole calls, retries included.
    pub breaker: BreakerConfig,
    /// Speak HTTP/2 to every endpoint (prior knowledge, h2c; over TLS, ALPN `h2`): one
    /// multiplexed connection per endpoint instead of a pool of HTTP/1.1 ones. Chassis servers
    /// accept it; a plain HTTP/1.1 upstream does not. Default `false`.
    pub http2: bool,
    /// The breaker of each endpoint (outlier ejection): judges single attempts, and is
    /// quicker to trip than the client's so one bad instance is ejected before the whole
    /// service is considered down.
    pub outlier: BreakerConfig,
    /// The base URL of an API to call instead of a discovered service,
    /// `http(s)://host[:port][/path]`: every call goes to that host and port, under that path
    /// (`/v1` + `/items`), over TLS for `https`. No user or password (send credentials in a
    /// header), no query, no fragment. Default none, or `""`: discovery finds the service.
    pub url: Option<String>,
    /// TLS: on with `tls.enabled` or an `https` url; the roots trusted, a client certificate.
    pub tls: TlsConfig,
}

/// TLS settings (`clients.<name>.tls`): on for an `https` url, or with `enabled` for a
/// discovered service. A TLS client never falls back to cleartext.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Call the discovered service over TLS (an `https` url implies it). Default `false`.
    pub enabled: bool,
    /// A PEM bundle of the CA certificates to trust, instead of the system's roots. Default
    /// none.
    pub ca_file: Option<PathBuf>,
    /// A PEM certificate chain to present for mutual TLS, with `client_key_file`. Default none.
    pub client_cert_file: Option<PathBuf>,
    /// The PEM private key of `client_cert_file` (PKCS#8, RSA or SEC1). Its contents are never
    /// shown in an error or a log. Default none.
    pub client_key_file: Option<PathBuf>,
    /// The name the server's certificate must be valid for (and the SNI sent), instead of the
    /// endpoint's host: for discovered IP addresses. Default none.
    pub server_name: Option<String>,
}

/// The default outlier-ejection breaker: judged over the last 10 attempts of an endpoint,
/// from 5, open for 10 s, one trial call.
pub fn default_outlier() -> BreakerConfig {
    BreakerConfig {
        minimum_calls: 5,
        window: WindowConfig {
            kind: WindowKind::Count,
            size: 10,
        },
        wait_in_open: Duration::from_secs(10),
        half_open_calls: 1,
        ..BreakerConfig::default()
    }
}

impl Default for ClientResilienceConfig {
    fn default() -> Self {
        Self {
            timeout: Some(Duration::from_secs(2)),
            attempt_timeout: None,
            retry: RetryConfig::default(),
            bulkhead: None,
            breaker: BreakerConfig::default(),
            http2: false,
            outlier: default_outlier(),
            url: None,
            tls: TlsConfig::default(),
        }
    }
}

impl ClientResilienceConfig {
    /// Checks every value; the error lists all that are out of range.
    pub fn validate(&self) -> Result<(), InvalidResilienceConfig> {
        let mut problems = Problems::default();
        if self.timeout == Some(Duration::ZERO) {
            problems.push("timeout", "0s", "more than zero, or \"\" for none");
        }
        if self.attempt_timeout == Some(Duration::ZERO) {
            problems.push("attempt_timeout", "0s", "more than zero, or \"\" for none");
        }
        if let (Some(attempt), Some(overall)) = (self.attempt_timeout, self.timeout)
            && attempt > overall
        {
            problems.push(
                "attempt_timeout",
                human(attempt),
                "at most `timeout` (a longer attempt can never finish)",
            );
        }
        self.retry.check(&mut problems, "retry.");
        if let Some(bulkhead) = &self.bulkhead {
            bulkhead.check(&mut problems, "bulkhead.");
        }
        if let Err(error) = self.breaker.validate() {
            problems.push(
                error.key_under("breaker"),
                error,
                "a valid breaker configuration",
            );
        }
        if let Err(error) = self.outlier.validate() {
            problems.push(
                error.key_under("outlier"),
                error,
                "a valid breaker configuration",
            );
        }
        let base = self.check_url(&mut problems);
        self.check_tls(base.as_ref(), &mut problems);
        problems.finish()
    }

    /// Whether calls go over TLS: `tls.enabled`, or an `https` url.
    pub fn uses_tls(&self) -> bool {
        self.tls.enabled
            || self
                .url_text()
                .and_then(|url| BaseUrl::parse(url).ok())
                .is_some_and(|url| url.is_tls())
    }

    /// The base URL, parsed; `None` when calls go to a discovered service.
    pub(crate) fn base_url(&self) -> Result<Option<BaseUrl>, InvalidResilienceConfig> {
        let mut problems = Problems::default();
        let base = self.check_url(&mut problems);
        problems.finish().map(|()| base)
    }

    /// `url`, unless unset or `""`.
    fn url_text(&self) -> Option<&str> {
        self.url.as_deref().filter(|url| !url.is_empty())
    }

    /// Parses `url`, recording why it is refused; its credentials are never shown.
    fn check_url(&self, p: &mut Problems) -> Option<BaseUrl> {
        let url = self.url_text()?;
        BaseUrl::parse(url)
            .map_err(|invalid| p.push("url", redact_url(url), invalid.expected()))
            .ok()
    }

    fn check_tls(&self, base: Option<&BaseUrl>, p: &mut Problems) {
        let tls = &self.tls;
        if tls.enabled && base.is_some_and(|url| !url.is_tls()) {
            p.push(
                "tls.enabled",
                true,
                "false with an http:// url (TLS needs an https:// url)",
            );
        }
        if !self.uses_tls() {
            for (key, set) in [
                ("tls.ca_file", tls.ca_file.is_some()),
                ("tls.client_cert_file", tls.client_cert_file.is_some()),
                ("tls.client_key_file", tls.client_key_file.is_some()),
                ("tls.server_name", tls.server_name.is_some()),
            ] {
                if set {
                    p.push(
                        key,
                        "set",
                        "unset while TLS is off (set tls.enabled = true or use an https:// url)",
                    );
                }
            }
        }
        match (&tls.client_cert_file, &tls.client_key_file) {
            (Some(_), None) => p.push(
                "tls.client_key_file",
                "unset",
                "set with tls.client_cert_file (mutual TLS needs both)",
            ),
            (None, Some(_)) => p.push(
                "tls.client_cert_file",
                "unset",
                "set with tls.client_key_file (mutual TLS needs both)",
            ),
            _ => {}
        }
        if let Some(name) = &tls.server_name
            && crate::client::tls::server_name(name).is_none()
        {
            p.push(
                "tls.server_name",
                format!("{name:?}"),
                "a DNS name or an IP address",
            );
        }
    }
}

/// Retry settings (`clients.<name>.retry`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts per call, the first included; `1` turns retries off. Default 3, range 1..=10.
    pub max_attempts: u32,
    /// Backoff before the first retry, doubling each time (full jitter). Default `"25ms"`.
    #[serde(with = "crate::config::duration")]
    pub backoff_base: Duration,
    /// Upper bound of one backoff. Default `"1s"`.
    #[serde(with = "crate::config::duration")]
    pub backoff_max: Duration,
    /// Longest `Retry-After` honoured; a longer one ends the retries. Default `"5s"`.
    #[serde(with = "crate::config::duration")]
    pub retry_after_max: Duration,
    /// Retries may add at most this percentage of the original requests. Default 20,
    /// range 0..=1000.
    pub budget_percent: u32,
    /// Retries per second always allowed on top of the percentage. Default 10.
    pub budget_min_per_sec: u32,
    /// How long an original request counts toward the budget. Default `"10s"`, range 1s..=60s.
    #[serde(with = "crate::config::duration")]
    pub budget_ttl: Duration,
    /// Largest request body buffered for replay, bytes or `"64KiB"`; larger bodies are sent
    /// once and not retried. Default 64 KiB.
    #[serde(with = "byte_size")]
    pub max_replay_body: u64,
    /// A retry starts only if at least this much time is left before the deadline after its
    /// backoff. Default `"10ms"`.
    #[serde(with = "crate::config::duration")]
    pub min_attempt_time: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff_base: Duration::from_millis(25),
            backoff_max: Duration::from_secs(1),
            retry_after_max: Duration::from_secs(5),
            budget_percent: 20,
            budget_min_per_sec: 10,
            budget_ttl: Duration::from_secs(10),
            max_replay_body: 64 * 1024,
            min_attempt_time: Duration::from_millis(10),
        }
    }
}

impl RetryConfig {
    /// Checks every value; the error lists all that are out of range.
    pub fn validate(&self) -> Result<(), InvalidResilienceConfig> {
        let mut problems = Problems::default();
        self.check(&mut problems, "");
        problems.finish()
    }

    fn check(&self, p: &mut Problems, prefix: &str) {
        if !(1..=10).contains(&self.max_attempts) {
            p.push(format!("{prefix}max_attempts"), self.max_attempts, "1..=10");
        }
        if self.backoff_base.is_zero() || self.backoff_base > Duration::from_secs(60) {
            p.push(
                format!("{prefix}backoff_base"),
                human(self.backoff_base),
                "1ms..=1m",
            );
        }
        if self.backoff_max < self.backoff_base || self.backoff_max > Duration::from_secs(300) {
            p.push(
                format!("{prefix}backoff_max"),
                human(self.backoff_max),
                "at least backoff_base and at most 5m",
            );
        }
        if self.retry_after_max > Duration::from_secs(300) {
            p.push(
                format!("{prefix}retry_after_max"),
                human(self.retry_after_max),
                "0s..=5m",
            );
        }
        if self.budget_percent > 1000 {
            p.push(
                format!("{prefix}budget_percent"),
                self.budget_percent,
                "0..=1000",
            );
        }
        if self.budget_min_per_sec > 1_000_000 {
            p.push(
                format!("{prefix}budget_min_per_sec"),
                self.budget_min_per_sec,
                "0..=1000000",
            );
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&self.budget_ttl) {
            p.push(
                format!("{prefix}budget_ttl"),
                human(self.budget_ttl),
                "1s..=60s",
            );
        }
        if self.max_replay_body > 64 * 1024 * 1024 {
            p.push(
                format!("{prefix}max_replay_body"),
                self.max_replay_body,
                "0..=64MiB",
            );
        }
        if self.min_attempt_time > Duration::from_secs(60) {
            p.push(
                format!("{prefix}min_attempt_time"),
                human(self.min_attempt_time),
                "0s..=1m",
            );
        }
    }
}

/// Bulkhead settings (`clients.<name>.bulkhead`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkheadConfig {
    /// Calls in flight at once. Default 100, at least 1.
    pub max_concurrent: usize,
    /// Calls that may wait for a permit; more are rejected at once. Default 0 (no queue).
    pub max_queue: usize,
    /// How long a call may wait for a permit. Default `"0s"`.
    #[serde(with = "crate::config::duration")]
    pub max_wait: Duration,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        Self {
            max_concurrent: 100,
            max_queue: 0,
            max_wait: Duration::ZERO,
        }
    }
}

impl BulkheadConfig {
    /// Checks every value; the error lists all that are out of range.
    pub fn validate(&self) -> Result<(), InvalidResilienceConfig> {
        let mut problems = Problems::default();
        self.check(&mut problems, "");
        problems.finish()
    }

    fn check(&self, p: &mut Problems, prefix: &str) {
        if self.max_concurrent == 0 || self.max_concurrent > 1_000_000 {
            p.push(
                format!("{prefix}max_concurrent"),
                self.max_concurrent,
                "1..=1000000",
            );
        }
        if self.max_queue > 1_000_000 {
            p.push(format!("{prefix}max_queue"), self.max_queue, "0..=1000000");
        }
        if self.max_wait > Duration::from_secs(60) {
            p.push(format!("{prefix}max_wait"), human(self.max_wait), "0s..=1m");
        }
    }
}

/// One setting out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` is {value}, expected {expected}")]
pub struct OutOfRange {
    /// The key relative to `clients.<name>`, such as `retry.max_attempts`.
    pub key: String,
    /// The value found.
    pub value: String,
    /// What was expected.
    pub expected: &'static str,
}

/// Resilience settings with values out of range; lists every one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid resilience settings: {}", list(.problems))]
pub struct InvalidResilienceConfig {
    problems: Vec<OutOfRange>,
}

impl InvalidResilienceConfig {
    /// Every problem found.
    pub fn problems(&self) -> &[OutOfRange] {
        &self.problems
    }
}

fn list(problems: &[OutOfRange]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[derive(Default)]
struct Problems(Vec<OutOfRange>);

impl Problems {
    fn push(&mut self, key: impl Into<String>, value: impl fmt::Display, expected: &'static str) {
        self.0.push(OutOfRange {
            key: key.into(),
            value: value.to_string(),
            expected,
        });
    }

    fn finish(self) -> Result<(), InvalidResilienceConfig> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(InvalidResilienceConfig { problems: self.0 })
        }
    }
}

/// Serde helpers for a size in bytes: a number, or a string such as `"64KiB"`, `"1MB"`.
pub mod byte_size {
    use serde::{Deserializer, Serializer, de};

    /// Parses `"512"`, `"64KiB"`, `"64 kib"`, `"1MB"`, `"2GiB"` (KB/MB/GB are powers of 1000,
    /// KiB/MiB/GiB of 1024).
    pub fn parse(text: &str) -> Option<u64> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: u64 = number.parse().ok()?;
        let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1000,
            "kib" => 1 << 10,
            "mb" => 1_000_000,
            "mib" => 1 << 20,
            "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            _ => return None,
        };
        number.checked_mul(factor)
    }

    /// Deserializes a byte size from a number or a string.
    ///
    /// # Errors
    ///
    /// Fails on a negative number or a string that is not a size.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_any(Visitor)
    }

    /// Serializes a byte size as a number.
    ///
    /// # Errors
    ///
    /// Fails only when the serializer does.
    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(*value)
    }

    struct Visitor;

    impl de::Visitor<'_> for Visitor {
        type Value = u64;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a size in bytes such as 65536 or \"64KiB\"")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_docs() {
        let config = ClientResilienceConfig::default();
        config.validate().expect("defaults are valid");
        assert_eq!(config.timeout, Some(Duration::from_secs(2)));
        assert_eq!(config.retry.max_attempts, 3);
        assert_eq!(config.retry.backoff_base, Duration::from_millis(25));
        assert_eq!(config.retry.max_replay_body, 65_536);
        let empty: ClientResilienceConfig = toml::from_str("").expect("empty parses");
        assert_eq!(empty, config);
    }

    #[test]
    fn human_values_and_unknown_keys() {
        let config: ClientResilienceConfig = toml::from_str(
            "timeout = \"\"\n[retry]\nbudget_ttl = \"30s\"\nmax_replay_body = 1024\n[bulkhead]\nmax_wait = \"20ms\"",
        )
        .expect("parses");
        assert_eq!(config.timeout, None);
        assert_eq!(config.retry.budget_ttl, Duration::from_secs(30));
        assert_eq!(config.retry.max_replay_body, 1024);
        let bulkhead = config.bulkhead.expect("bulkhead present");
        assert_eq!(bulkhead.max_wait, Duration::from_millis(20));
        assert_eq!(bulkhead.max_concurrent, 100);
        let err = toml::from_str::<ClientResilienceConfig>("[retry]\nmax_atempts = 2")
            .expect_err("unknown key");
        assert!(err.to_string().contains("max_atempts"), "{err}");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(byte_size::parse("64KiB"), Some(65_536));
        assert_eq!(byte_size::parse(" 64 kib "), Some(65_536));
        assert_eq!(byte_size::parse("1MB"), Some(1_000_000));
        assert_eq!(byte_size::parse("100"), Some(100));
        assert_eq!(byte_size::parse("1.5MiB"), None);
        assert_eq!(byte_size::parse("KiB"), None);
        assert_eq!(byte_size::parse("99999999999999GiB"), None);
    }

    #[test]
    fn validate_lists_every_problem() {
        let mut config = ClientResilienceConfig {
            attempt_timeout: Some(Duration::from_secs(5)),
            bulkhead: Some(BulkheadConfig {
                max_concurrent: 0,
                ..BulkheadConfig::default()
            }),
            ..ClientResilienceConfig::default()
        };
        config.retry.max_attempts = 0;
        config.retry.budget_ttl = Duration::from_millis(500);
        config.retry.budget_percent = 5000;
        let err = config.validate().expect_err("out of range");
        let keys: Vec<_> = err.problems().iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "attempt_timeout",
                "retry.max_attempts",
                "retry.budget_percent",
                "retry.budget_ttl",
                "bulkhead.max_concurrent"
            ]
        );
        assert!(
            err.to_string()
                .contains("`retry.max_attempts` is 0, expected 1..=10"),
            "{err}"
        );
    }

    #[test]
    fn a_base_url_and_tls_settings_are_checked_together() {
        let api: ClientResilienceConfig =
            toml::from_str("url = \"https://api.example.com/v1\"\n[tls]\nserver_name = \"api\"")
                .expect("parses");
        api.validate().expect("valid");
        assert!(api.uses_tls());
        let url = api.base_url().expect("valid").expect("set");
        assert_eq!(url.prefix(), "/v1");
        let none = ClientResilienceConfig {
            url: Some(String::new()),
            ..ClientResilienceConfig::default()
        };
        assert_eq!(none.base_url(), Ok(None), "\"\" is no url");
        assert!(!none.uses_tls());

        let bad = ClientResilienceConfig {
            url: Some("http://api.example.com".to_owned()),
            tls: TlsConfig {
                enabled: true,
                client_cert_file: Some("/etc/client.pem".into()),
                server_name: Some("not a name".to_owned()),
                ..TlsConfig::default()
            },
            ..ClientResilienceConfig::default()
        };
        let err = bad.validate().expect_err("invalid");
        let keys: Vec<_> = err.problems().iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["tls.enabled", "tls.client_key_file", "tls.server_name"]
        );
        let off = ClientResilienceConfig {
            tls: TlsConfig {
                ca_file: Some("/etc/ca.pem".into()),
                ..TlsConfig::default()
            },
            ..ClientResilienceConfig::default()
        };
        let err = off.validate().expect_err("TLS is off");
        assert_eq!(err.problems()[0].key, "tls.ca_file");
    }

    #[test]
    fn a_url_with_credentials_is_refused_without_showing_them() {
        let config = ClientResilienceConfig {
            url: Some("https://user:hunter2@api.example.com/v1".to_owned()),
            ..ClientResilienceConfig::default()
        };
        let err = config.validate().expect_err("credentials");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("`url` is https://***@api.example.com/v1"),
            "{shown}"
        );
        assert_eq!(config.base_url().expect_err("same problem"), err);
    }
}
