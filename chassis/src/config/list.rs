//! Lists that may be written as a sequence or as a comma-separated string (the form an
//! environment variable takes).

use serde::{Deserialize, Deserializer};

/// Deserializes a `Vec<T>` from a sequence or from `"a,b,c"`.
///
/// Use with `#[serde(deserialize_with = "chassis::config::list::deserialize")]`.
///
/// # Errors
///
/// Fails when an element does not parse as `T`.
pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr + Deserialize<'de>,
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either<T> {
        List(Vec<T>),
        Text(String),
    }
    match Either::<T>::deserialize(deserializer)? {
        Either::List(items) => Ok(items),
        Either::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(serde::de::Error::custom))
            .collect(),
    }
}
