//! Configuration sources that remember, per value, exactly where it came from.

use config::{Map, Source, Value, ValueKind};

use super::Origin;

const ENV_TAG: &str = "env:";
const OVERRIDE_TAG: &str = "override:";
const DEFAULT_TAG: &str = "default:";
const ETCD_TAG: &str = "etcd:";

/// Key-value pairs that become configuration values, each tagged with its origin.
#[derive(Debug, Clone, Default)]
pub(crate) struct TaggedPairs {
    /// `(dotted key, origin tag, value)`.
    entries: Vec<(String, String, String)>,
}

impl TaggedPairs {
    /// Environment variables named `{PREFIX}__{SECTION}__{KEY}`; others are ignored.
    pub(crate) fn from_env<I>(prefix: &str, vars: I) -> Self
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let head = format!("{prefix}__");
        let entries = vars
            .into_iter()
            .filter_map(|(name, value)| {
                let rest = name.strip_prefix(&head)?;
                let key = rest
                    .split("__")
                    .map(str::to_ascii_lowercase)
                    .collect::<Vec<_>>()
                    .join(".");
                let tag = format!("{ENV_TAG}{name}");
                (!key.is_empty()).then_some((key, tag, value))
            })
            .collect();
        Self { entries }
    }

    /// Overrides given in code, as `(dotted key, value)`.
    pub(crate) fn overrides(pairs: &[(String, String)]) -> Self {
        Self::tagged(OVERRIDE_TAG, pairs)
    }

    /// Defaults given in code, as `(dotted key, value)`.
    pub(crate) fn defaults(pairs: &[(String, String)]) -> Self {
        Self::tagged(DEFAULT_TAG, pairs)
    }

    /// Values from etcd, as `(dotted key, etcd key, value)`.
    pub(crate) fn etcd(pairs: &[(String, String, String)]) -> Self {
        let entries = pairs
            .iter()
            .map(|(key, etcd_key, value)| {
                (key.clone(), format!("{ETCD_TAG}{etcd_key}"), value.clone())
            })
            .collect();
        Self { entries }
    }

    fn tagged(tag: &str, pairs: &[(String, String)]) -> Self {
        let entries = pairs
            .iter()
            .map(|(key, value)| (key.clone(), format!("{tag}{key}"), value.clone()))
            .collect();
        Self { entries }
    }
}

impl Source for TaggedPairs {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(self
            .entries
            .iter()
            .map(|(key, tag, value)| {
                let value = Value::new(Some(tag), ValueKind::String(value.clone()));
                (key.clone(), value)
            })
            .collect())
    }
}

/// Reads back the origin of a merged value.
pub(crate) fn origin_of(value: &Value) -> Origin {
    match value.origin() {
        None => Origin::Defaults,
        Some(tag) => {
            if let Some(name) = tag.strip_prefix(ENV_TAG) {
                Origin::Env(name.to_owned())
            } else if let Some(key) = tag.strip_prefix(ETCD_TAG) {
                Origin::Etcd(key.to_owned())
            } else if tag.starts_with(DEFAULT_TAG) {
                Origin::Defaults
            } else if let Some(key) = tag.strip_prefix(OVERRIDE_TAG) {
                Origin::Override(key.to_owned())
            } else {
                Origin::File(tag.to_owned())
            }
        }
    }
}
