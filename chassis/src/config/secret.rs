//! [`Secret`]: a configuration value that never prints.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret value (a password, a token) that never shows in `Debug`, `Display`, logs or
/// configuration dumps. Read it with [`Secret::expose`].
///
/// ```
/// use chassis::config::Secret;
///
/// let token = Secret::new(String::from("hunter2"));
/// assert_eq!(format!("{token:?}"), "Secret(\"***\")");
/// assert_eq!(token.expose(), "hunter2");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret value itself: call it where the value is used, never to log it.
    pub const fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(\"***\")")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Deserializes as `T`. When that fails, the error says what was expected but never carries
/// `T`'s own message, which could quote the value: `expected a valid u32; the secret's value
/// is not shown`.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self).map_err(|_| {
            serde::de::Error::custom(format_args!(
                "expected a valid {}; the secret's value is not shown",
                short_type_name::<T>()
            ))
        })
    }
}

/// `T`'s name without module paths: `Vec<String>` for `alloc::vec::Vec<alloc::string::String>`.
fn short_type_name<T>() -> String {
    let full = std::any::type_name::<T>();
    let mut out = String::with_capacity(full.len());
    let mut word = String::new();
    for c in full.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            out.push_str(word.rsplit("::").next().unwrap_or_default());
            word.clear();
            out.push(c);
        }
    }
    out.pop();
    out
}

/// Serializes as `"***"`, so a configuration dump never carries the value.
impl<T> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_error_names_the_type_not_the_value() {
        let err = serde_json::from_str::<Secret<u32>>("\"hunter2\"").expect_err("not a u32");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            err.to_string()
                .starts_with("expected a valid u32; the secret's value is not shown"),
            "{err}"
        );
        assert_eq!(short_type_name::<Vec<String>>(), "Vec<String>");
        assert_eq!(
            short_type_name::<std::collections::BTreeMap<String, (u8, bool)>>(),
            "BTreeMap<String, (u8, bool)>"
        );
    }
}
