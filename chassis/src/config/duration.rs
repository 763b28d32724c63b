//! Serde helpers for human-readable durations such as `"250ms"` or `"5s"`.
//!
//! Use with `#[serde(with = "chassis::config::duration")]` on a `Duration` field, or
//! `chassis::config::duration::option` on an `Option<Duration>` field.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer, de};

/// Deserializes a duration from a human string (`"250ms"`, `"1m 30s"`) or a whole number of
/// seconds.
///
/// # Errors
///
/// Fails when the value is neither a duration string nor a non-negative integer.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

/// Serializes a duration as a human string such as `"250ms"`.
///
/// # Errors
///
/// Fails only when the serializer rejects a string.
pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_duration(*value))
}

/// The same for `Option<Duration>`: a missing value or an empty string is `None`.
pub mod option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Deserializes an optional human duration.
    ///
    /// # Errors
    ///
    /// Fails when a value is present and is not a duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<super::HumanDuration>::deserialize(deserializer).map(|d| d.and_then(|d| d.0))
    }

    /// Serializes an optional duration (`None` as a missing value).
    ///
    /// # Errors
    ///
    /// Fails only when the serializer rejects a string.
    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => super::serialize(d, serializer),
            None => serializer.serialize_none(),
        }
    }
}

/// A duration that may be written as an empty string for "none".
struct HumanDuration(Option<Duration>);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OptionalVisitor)
    }
}

struct DurationVisitor;

impl de::Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a duration such as \"250ms\" or \"5s\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        humantime::parse_duration(v.trim()).map_err(|e| {
            E::custom(format_args!(
                "invalid duration {v:?} ({e}); expected a duration such as \"250ms\" or \"5s\""
            ))
        })
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .map(Duration::from_secs)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }
}

struct OptionalVisitor;

impl de::Visitor<'_> for OptionalVisitor {
    type Value = HumanDuration;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a duration such as \"250ms\" or \"5s\", or an empty string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
        if v.trim().is_empty() {
            return Ok(HumanDuration(None));
        }
        DurationVisitor.visit_str(v).map(|d| HumanDuration(Some(d)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<HumanDuration, E> {
        DurationVisitor.visit_u64(v).map(|d| HumanDuration(Some(d)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<HumanDuration, E> {
        DurationVisitor.visit_i64(v).map(|d| HumanDuration(Some(d)))
    }

    fn visit_none<E: de::Error>(self) -> Result<HumanDuration, E> {
        Ok(HumanDuration(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<HumanDuration, E> {
        Ok(HumanDuration(None))
    }
}
