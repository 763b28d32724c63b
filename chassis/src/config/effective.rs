//! [`EffectiveConfig`]: what a process runs with, key by key, with each key's source, and
//! never a secret.
//!
//! Every chassis key shows, defaults included; the service's own keys show as its sources
//! set them. A value is hidden (`"***"`) when its key names a secret (see the rules of
//! [`redact`](super::redact)), when the service reads it as a [`Secret`](super::Secret)
//! whatever its key is called, or when it looks like a credential; a URL keeps its host and
//! loses its user and password.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Origin;
use super::flat::Flat;
use super::redact::{self, HIDDEN};
use super::settings::CHASSIS_SECTIONS;
use crate::config::Settings;

/// One key of the [`EffectiveConfig`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectiveValue {
    /// The value (`"***"` for a secret; `null` for an optional key left unset).
    pub value: serde_json::Value,
    /// Where it came from: `built-in defaults`, `file config/default.toml`, `environment
    /// variable ORDERS__SERVER__PORT`, `etcd key /config/orders/server/port`, `override
    /// server.port`.
    pub source: String,
}

/// The configuration a process runs with (`GET /admin/config`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EffectiveConfig {
    /// Every key, by dotted name, with the value in force.
    pub keys: BTreeMap<String, EffectiveValue>,
    /// Keys whose sources now say something else than what runs, and that take effect
    /// only after a restart (ports, hosts): the value that will, and its source.
    pub pending_restart: BTreeMap<String, EffectiveValue>,
}

impl EffectiveConfig {
    /// The effective configuration of `settings` and the keys `keys` the sources set, the
    /// service's secrets being at `app_secrets`.
    pub(crate) fn new(settings: &Settings, keys: &Flat, app_secrets: &[String]) -> Self {
        let mut out = BTreeMap::new();
        let chassis = serde_json::to_value(settings).unwrap_or_default();
        let mut leaves = Vec::new();
        leaves_of("", &chassis, &mut leaves);
        for (key, value) in leaves {
            let origin = keys
                .get(&key)
                .map_or(Origin::Defaults, |e| e.origin.clone());
            out.insert(key, shown(value, &origin, false));
        }
        for (key, entry) in keys {
            let section = key.split('.').next().unwrap_or_default();
            if CHASSIS_SECTIONS.contains(&section) {
                continue;
            }
            // An empty key: the probe lost every path (a flattened root), hide it all.
            let secret = app_secrets.iter().any(|s| {
                s.is_empty()
                    || key == s
                    || key
                        .strip_prefix(s.as_str())
                        .is_some_and(|r| r.starts_with('.'))
            });
            let mut value = shown(entry.value.clone(), &entry.origin, secret);
            if redact::is_secret_key(key) {
                value.value = serde_json::Value::String(HIDDEN.to_owned());
            }
            out.insert(key.clone(), value);
        }
        for (key, value) in &mut out {
            if redact::is_secret_key(key) && !value.value.is_null() {
                value.value = serde_json::Value::String(HIDDEN.to_owned());
            }
        }
        Self {
            keys: out,
            pending_restart: BTreeMap::new(),
        }
    }
}

/// `value` as shown: hidden whole when `secret`, else with credentials hidden.
fn shown(value: serde_json::Value, origin: &Origin, secret: bool) -> EffectiveValue {
    let value = if secret {
        serde_json::Value::String(HIDDEN.to_owned())
    } else {
        without_credentials(value)
    };
    EffectiveValue {
        value,
        source: origin.to_string(),
    }
}

fn without_credentials(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        J::String(text) if redact::looks_like_credential(&text) => {
            let url = redact::redact_url(&text);
            if url != text && !redact::looks_like_credential(&url) {
                J::String(url.into_owned())
            } else {
                J::String(HIDDEN.to_owned())
            }
        }
        J::Array(items) => J::Array(items.into_iter().map(without_credentials).collect()),
        J::Object(map) => J::Object(
            map.into_iter()
                .map(|(k, v)| (k, without_credentials(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The leaves of a JSON tree (a list is one leaf), by dotted key.
fn leaves_of(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, serde_json::Value)>) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() || prefix.is_empty() => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaves_of(&path, child, out);
            }
        }
        serde_json::Value::Object(_) => {}
        leaf => out.push((prefix.to_owned(), leaf.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::flat::Entry;

    #[test]
    fn sources_show_and_secrets_do_not() {
        let mut keys = Flat::new();
        let file = |v: &str| Entry {
            value: serde_json::json!(v),
            origin: Origin::File("config/default.toml".into()),
        };
        keys.insert("server.port".into(), file("8080"));
        keys.insert("db.dsn".into(), file("hunter2-plain"));
        keys.insert("db.password".into(), file("hunter2"));
        keys.insert("db.url".into(), file("postgres://u:hunter2@db:5432/x"));
        keys.insert("greeting".into(), file("hello"));
        let mut settings = Settings::default();
        settings.server.port = 8080;
        settings.server.admin_token = Some(crate::config::Secret::new("t0ken-t0ken-t0ken!".into()));
        let effective = EffectiveConfig::new(&settings, &keys, &["db.dsn".to_owned()]);
        let text = serde_json::to_string(&effective).unwrap();
        for secret in ["hunter2", "t0ken"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(
            effective.keys["server.port"].source,
            "file config/default.toml"
        );
        assert_eq!(effective.keys["server.host"].source, "built-in defaults");
        assert_eq!(effective.keys["greeting"].value, serde_json::json!("hello"));
        assert_eq!(
            effective.keys["db.url"].value,
            serde_json::json!("postgres://***@db:5432/x")
        );
        assert_eq!(effective.keys["db.dsn"].value, serde_json::json!("***"));
        assert_eq!(
            effective.keys["server.admin_token"].value,
            serde_json::json!("***")
        );
    }
}
