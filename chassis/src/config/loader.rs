//! [`ConfigLoader`]: layers the sources and produces typed configuration.

use std::path::{Path, PathBuf};

use config::{File, FileFormat, Map, Value, ValueKind};
use serde::de::DeserializeOwned;

use super::collect::deserialize_all;
use super::flat::{Flat, flatten};
use super::redact;
use super::secret::probe::secret_keys;
use super::settings::merge_client_spellings;
use super::source::TaggedPairs;
use super::{ConfigError, ConfigProblem, Settings};

/// Environment variable that selects the profile file `config/{profile}.toml`.
pub const PROFILE_ENV: &str = "APP_PROFILE";
/// Environment variable that moves the configuration directory (default `./config`).
pub const CONFIG_DIR_ENV: &str = "APP_CONFIG_DIR";

/// Loaded configuration: the chassis sections and the service's own settings.
#[derive(Debug, Clone)]
pub struct LoadedConfig<T> {
    /// The chassis-owned sections.
    pub settings: Settings,
    /// The service's own settings: every top-level key that is not a chassis section.
    pub app: T,
}

/// Loads configuration from, later wins: built-in defaults, the service's embedded defaults,
/// `{dir}/default.toml`, `{dir}/{profile}.toml`, the keys under `reload.etcd_prefix` (while
/// the service runs, feature `etcd`), environment variables
/// `{SERVICE}__{SECTION}__{KEY}`, and overrides given in code.
///
/// ```
/// use chassis::config::ConfigLoader;
///
/// let loaded = ConfigLoader::new("orders")?
///     .env([("ORDERS__SERVER__PORT".to_owned(), "8082".to_owned())])
///     .set("shutdown.drain_delay", "1s")
///     .load::<()>()?;
/// assert_eq!(loaded.settings.server.port, 8082);
/// assert_eq!(loaded.settings.shutdown.drain_delay.as_secs(), 1);
/// # Ok::<(), chassis::config::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigLoader {
    service: String,
    embedded: Option<&'static str>,
    dir: Option<PathBuf>,
    profile: Option<String>,
    env: Vec<(String, String)>,
    defaults: Vec<(String, String)>,
    overrides: Vec<(String, String)>,
    /// Values from etcd: `(dotted key, etcd key, value)`.
    etcd: Vec<(String, String, String)>,
}

/// A load with what reloads and the effective configuration need besides the typed values.
#[derive(Debug)]
pub(crate) struct FullLoad<T> {
    pub(crate) config: LoadedConfig<T>,
    /// Every key a source set, by dotted key (client names with `-` as `_`), unredacted.
    pub(crate) keys: Flat,
    /// The dotted keys of the service's own [`Secret`](super::Secret)s.
    pub(crate) app_secrets: Vec<String>,
}

impl ConfigLoader {
    /// A loader for `service` reading nothing but defaults until told more.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidServiceName`] unless the name is lowercase letters, digits and `-`.
    pub fn new(service: &str) -> Result<Self, ConfigError> {
        if !is_valid_service_name(service) {
            return Err(ConfigError::InvalidServiceName(service.to_owned()));
        }
        Ok(Self {
            service: service.to_owned(),
            embedded: None,
            dir: None,
            profile: None,
            env: Vec::new(),
            defaults: Vec::new(),
            overrides: Vec::new(),
            etcd: Vec::new(),
        })
    }

    /// A loader reading what a deployed process reads: `./config` (or `APP_CONFIG_DIR`),
    /// the profile from `APP_PROFILE`, and the process environment.
    ///
    /// # Errors
    ///
    /// As [`ConfigLoader::new`].
    pub fn from_process(service: &str) -> Result<Self, ConfigError> {
        let dir = std::env::var_os(CONFIG_DIR_ENV).map_or_else(|| "config".into(), PathBuf::from);
        Ok(Self::new(service)?
            .dir(dir)
            .profile(std::env::var(PROFILE_ENV).ok().filter(|p| !p.is_empty()))
            .env(std::env::vars()))
    }

    /// The service's own defaults, as TOML compiled into the binary.
    pub fn embedded_defaults(mut self, toml: &'static str) -> Self {
        self.embedded = Some(toml);
        self
    }

    /// The directory holding `default.toml` and the profile files.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// The profile whose file `{dir}/{profile}.toml` must exist and is layered on top.
    pub fn profile(mut self, profile: Option<String>) -> Self {
        self.profile = profile;
        self
    }

    /// Environment variables to read (only those named `{SERVICE}__...` are used).
    pub fn env<I: IntoIterator<Item = (String, String)>>(mut self, vars: I) -> Self {
        self.env.extend(vars);
        self
    }

    /// Sets a default for one dotted key: above the embedded defaults, below files,
    /// environment and overrides (a launcher's own defaults, for example).
    #[allow(clippy::needless_pass_by_value)] // taking values by value reads best at call sites
    pub fn set_default(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.defaults.push((key.into(), value.to_string()));
        self
    }

    /// Sets one dotted key, above every other source.
    #[allow(clippy::needless_pass_by_value)] // taking values by value reads best at call sites
    pub fn set(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.overrides.push((key.into(), value.to_string()));
        self
    }

    /// The files this loader reads: `{dir}/default.toml` and the profile's file.
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let mut files = vec![dir.join("default.toml")];
        if let Some(profile) = &self.profile {
            files.push(dir.join(format!("{profile}.toml")));
        }
        files
    }

    /// Replaces the values read from etcd (`(dotted key, etcd key, value)`): above the
    /// files, below the environment and overrides.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))]
    pub(crate) fn with_etcd(mut self, values: Vec<(String, String, String)>) -> Self {
        self.set_etcd(values);
        self
    }

    /// [`with_etcd`](Self::with_etcd) in place.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))]
    pub(crate) fn set_etcd(&mut self, values: Vec<(String, String, String)>) {
        self.etcd = values;
    }

    /// The prefix of this service's environment variables, such as `ORDERS`.
    pub fn env_prefix(&self) -> String {
        env_prefix(&self.service)
    }

    /// Layers the sources and deserializes them.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] listing every bad, unknown or missing value with its source;
    /// [`ConfigError::File`] when a file exists but cannot be parsed;
    /// [`ConfigError::UnknownProfile`] when the profile's file is missing.
    pub fn load<T: DeserializeOwned>(&self) -> Result<LoadedConfig<T>, ConfigError> {
        self.load_full().map(|full| full.config)
    }

    /// [`load`](Self::load), with every key's value and source and where the service's
    /// secrets are.
    pub(crate) fn load_full<T: DeserializeOwned>(&self) -> Result<FullLoad<T>, ConfigError> {
        let root = self.merged()?;
        let mut table = match root.kind {
            ValueKind::Table(table) => table,
            _ => Map::new(),
        };
        merge_client_spellings(&mut table);
        let keys = flatten(&Value::new(None, ValueKind::Table(table.clone())));
        let mut problems = Vec::new();
        let settings = Settings::from_table(&mut table, &mut problems);
        let app_tree = Value::new(None, ValueKind::Table(table.clone()));
        let app = deserialize_app::<T>(table, &mut problems);
        match app {
            Some(app) if problems.is_empty() => Ok(FullLoad {
                config: LoadedConfig { settings, app },
                keys,
                app_secrets: secret_keys::<T>("", &app_tree),
            }),
            _ => {
                problems.sort_by(|a, b| a.key.cmp(&b.key));
                Err(ConfigError::Invalid(problems))
            }
        }
    }

    fn merged(&self) -> Result<Value, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(toml) = self.embedded {
            builder = builder.add_source(File::from_str(toml, FileFormat::Toml));
        }
        builder = builder.add_source(TaggedPairs::defaults(&self.defaults));
        if let Some(dir) = &self.dir {
            let default = dir.join("default.toml");
            check_readable(&default)?;
            builder = builder.add_source(file(&default).required(false));
            if let Some(profile) = &self.profile {
                let path = dir.join(format!("{profile}.toml"));
                if !path.is_file() {
                    return Err(ConfigError::UnknownProfile {
                        profile: profile.clone(),
                        path: path.display().to_string(),
                    });
                }
                builder = builder.add_source(file(&path));
            }
        } else if let Some(profile) = &self.profile {
            return Err(ConfigError::UnknownProfile {
                profile: profile.clone(),
                path: format!("{profile}.toml (no configuration directory)"),
            });
        }
        let built = builder
            .add_source(TaggedPairs::etcd(&self.etcd))
            .add_source(TaggedPairs::from_env(&self.env_prefix(), self.env.clone()))
            .add_source(TaggedPairs::overrides(&self.overrides))
            .build()
            .map_err(|e| match e {
                // A parser quotes the offending line: a secret on it is hidden.
                config::ConfigError::FileParse { uri, cause } => ConfigError::File {
                    path: uri.unwrap_or_else(|| "embedded defaults".to_owned()),
                    reason: redact::hide_in_excerpt(&cause.to_string()),
                },
                other => ConfigError::File {
                    path: "configuration".to_owned(),
                    reason: redact::hide_in_excerpt(&other.to_string()),
                },
            })?;
        Ok(built.cache)
    }
}

fn file(path: &Path) -> File<config::FileSourceFile, FileFormat> {
    File::from(path).format(FileFormat::Toml)
}

fn check_readable(path: &Path) -> Result<(), ConfigError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            std::fs::File::open(path)
                .map(drop)
                .map_err(|e| ConfigError::File {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })
        }
        _ => Ok(()),
    }
}

fn deserialize_app<T: DeserializeOwned>(
    table: Map<String, Value>,
    problems: &mut Vec<ConfigProblem>,
) -> Option<T> {
    let empty = table.is_empty();
    let value = Value::new(None, ValueKind::Table(table));
    let mut attempt = Vec::new();
    let parsed = deserialize_all::<T>("", value, &mut attempt);
    if attempt.is_empty() {
        return parsed;
    }
    // A unit or unit-like settings type has no table to read from.
    if empty && let Ok(app) = T::deserialize(Value::new(None, ValueKind::Nil)) {
        return Some(app);
    }
    problems.extend(attempt);
    None
}

/// Whether `name` is a valid service name: lowercase ASCII letters, digits and `-`, starting
/// with a letter, not ending with `-`, at most 63 characters (it is used in env prefixes and
/// discovery keys). A `const fn`, so `#[chassis::service]` can check names at compile time.
pub const fn is_valid_service_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > 63 || !bytes[0].is_ascii_lowercase() {
        return false;
    }
    if bytes[bytes.len() - 1] == b'-' {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

/// The environment variable prefix for a service name: upper-case, `-` as `_`.
pub fn env_prefix(service: &str) -> String {
    service.to_ascii_uppercase().replace('-', "_")
}
