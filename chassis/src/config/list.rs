//! Lists that may be written as a sequence or as a comma-separated string (the form an
//! environment variable takes).

use serde::{Deserialize, Deserializer};

/// Deserializes a `Vec<T>` from a sequence of strings or from `"a,b,c"`, parsing each
/// element with `T::from_str` (empty elements are skipped).
///
/// Use with `#[serde(deserialize_with = "chassis::config::list::deserialize")]`.
///
/// # Errors
///
/// Fails when an element does not parse as `T`.
pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Text(String),
    }
    // Each element is parsed from its text, so a bad one is reported with its own error.
    let items = match Either::deserialize(deserializer)? {
        Either::List(items) => items,
        Either::Text(text) => text.split(',').map(str::to_owned).collect(),
    };
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .collect()
}
