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
        if probe::stops_here() {
            return Err(serde::de::Error::custom(probe::MARKER));
        }
        T::deserialize(deserializer).map(Self).map_err(|_| {
            serde::de::Error::custom(format_args!(
                "expected a valid {}; the secret's value is not shown",
                short_type_name::<T>()
            ))
        })
    }
}

/// Finding where a settings type holds its secrets, so that a configuration dump hides them
/// whatever their keys are called.
///
/// A type's structure is not known at run time, but its deserialization is: with a probe
/// armed, the `n`-th [`Secret`] deserialized fails with a marker, and
/// `serde_path_to_error` says where it was. Arming the probe at 0, 1, 2, ... finds every
/// secret of a tree, one deserialization each, until one succeeds.
pub(crate) mod probe {
    use std::cell::Cell;

    use config::Value;
    use serde::de::DeserializeOwned;

    /// The error a probed secret fails with.
    pub(super) const MARKER: &str = "chassis: secret probe";
    /// Bound on the secrets looked for in one tree.
    const MAX_SECRETS: usize = 256;

    thread_local! {
        /// `(secrets seen, the one to stop at)` while a probe is armed.
        static ARMED: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
    }

    /// Whether the secret being deserialized is the one the armed probe stops at.
    pub(super) fn stops_here() -> bool {
        ARMED.with(|armed| match armed.get() {
            None => false,
            Some((seen, stop)) => {
                armed.set(Some((seen + 1, stop)));
                seen == stop
            }
        })
    }

    /// The dotted keys (below `prefix`) of every [`Secret`](super::Secret) that `T` reads
    /// from `tree`; a secret inside a list is reported as the list's key. Where serde loses
    /// the path (an untagged enum swallows the probe's error, a flattened struct buffers its
    /// fields), the key reported is the nearest one it kept, so the whole subtree is hidden;
    /// `prefix` itself (empty at the root) when none is kept.
    pub(crate) fn secret_keys<T: DeserializeOwned>(prefix: &str, tree: &Value) -> Vec<String> {
        let mut keys = Vec::new();
        for stop in 0..MAX_SECRETS {
            ARMED.with(|armed| armed.set(Some((0, stop))));
            let result = serde_path_to_error::deserialize::<_, T>(tree.clone());
            let seen = ARMED.with(Cell::take).map_or(0, |(seen, _)| seen);
            if seen <= stop {
                // The probe never fired: every secret has been found.
                break;
            }
            // An error that is not the probe's: an untagged enum swallowed it and failed
            // where the path stops. No error at all: one swallowed it and a variant of its
            // own took the data (a catch-all), but an unprobed load takes the variant with
            // the secret, and nothing says where: hide everything below `prefix`. Either
            // way the probes after this one go on.
            let key = match result {
                Err(error) => key_of(prefix, error.path()),
                Ok(_) => prefix.to_owned(),
            };
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    }

    /// `prefix` and the path's keys up to the first list index or unknown segment.
    fn key_of(prefix: &str, path: &serde_path_to_error::Path) -> String {
        let mut key = prefix.to_owned();
        for segment in path.iter().map(ToString::to_string) {
            if segment == "?" || segment.starts_with('[') || segment.parse::<usize>().is_ok() {
                break;
            }
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(&segment);
        }
        key
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
    fn the_probe_finds_every_secret_whatever_its_key() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Db {
            dsn: Secret<String>,
            pool: u32,
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct App {
            db: Db,
            keys: Vec<Secret<String>>,
            name: String,
        }
        let tree = config::Config::builder()
            .set_override("db.dsn", "postgres://h/db")
            .and_then(|b| b.set_override("db.pool", 4))
            .and_then(|b| b.set_override("keys", vec!["k1", "k2"]))
            .and_then(|b| b.set_override("name", "x"))
            .and_then(config::ConfigBuilder::<config::builder::DefaultState>::build)
            .expect("tree")
            .cache;
        let mut keys = probe::secret_keys::<App>("", &tree);
        keys.sort();
        assert_eq!(keys, ["db.dsn", "keys"]);
        // Unarmed, the same tree deserializes.
        assert!(serde_path_to_error::deserialize::<_, App>(tree).is_ok());
    }

    /// Where serde loses a secret's path, the nearest key it kept is hidden whole, and the
    /// secrets after it are still found (they were shown before, in an order that changed
    /// from one start to the next).
    #[test]
    fn secrets_behind_untagged_enums_and_flattened_structs_are_hidden() {
        use std::collections::BTreeMap;

        #[derive(Deserialize)]
        #[allow(dead_code)]
        #[serde(untagged)]
        enum Store {
            Remote {
                endpoint: String,
                key: Secret<String>,
            },
            Local {
                path: String,
            },
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Pool {
            dsn: Secret<String>,
            size: u32,
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Db {
            #[serde(flatten)]
            pool: Pool,
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        #[serde(untagged)]
        enum Auth {
            Token { user: String, token: Secret<String> },
            Anything(serde::de::IgnoredAny),
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct WithAuth {
            auth: Auth,
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Flat {
            #[serde(flatten)]
            pool: Pool,
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct App {
            db: Db,
            store: Store,
            hooks: BTreeMap<String, Secret<String>>,
            maybe: Option<Secret<String>>,
            later: Secret<String>,
            vault: Secret<String>,
            name: String,
        }
        let tree = config::Config::builder()
            .set_override("db.dsn", "postgres://h/db")
            .and_then(|b| b.set_override("db.size", 4))
            .and_then(|b| b.set_override("store.endpoint", "https://s"))
            .and_then(|b| b.set_override("store.key", "k"))
            .and_then(|b| b.set_override("hooks.slack", "https://hooks/x"))
            .and_then(|b| b.set_override("maybe", "m"))
            .and_then(|b| b.set_override("later", "l"))
            .and_then(|b| b.set_override("vault", "v"))
            .and_then(|b| b.set_override("name", "x"))
            .and_then(config::ConfigBuilder::<config::builder::DefaultState>::build)
            .expect("tree")
            .cache;
        let mut keys = probe::secret_keys::<App>("", &tree);
        keys.sort();
        assert_eq!(
            keys,
            ["db", "hooks.slack", "later", "maybe", "store", "vault"]
        );

        // An untagged enum with a catch-all variant: where is unknown, so all is hidden.
        let tree = config::Config::builder()
            .set_override("auth.user", "u")
            .and_then(|b| b.set_override("auth.token", "t"))
            .and_then(config::ConfigBuilder::<config::builder::DefaultState>::build)
            .expect("tree")
            .cache;
        assert_eq!(probe::secret_keys::<WithAuth>("", &tree), [""]);

        // A flattened root loses every path: the whole tree is hidden.
        let tree = config::Config::builder()
            .set_override("dsn", "postgres://h/db")
            .and_then(|b| b.set_override("size", 4))
            .and_then(config::ConfigBuilder::<config::builder::DefaultState>::build)
            .expect("tree")
            .cache;
        assert_eq!(probe::secret_keys::<Flat>("", &tree), [""]);
    }

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
