//! Configuration errors: every problem of one load, reported together.

use std::fmt;

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// The chassis' or the service's built-in defaults.
    Defaults,
    /// A configuration file.
    File(String),
    /// An environment variable, by name.
    Env(String),
    /// An override given in code (tests, launchers).
    Override(String),
    /// A key under the etcd prefix of `reload.etcd_prefix`, by its etcd key.
    Etcd(String),
    /// No source set the key.
    Unset,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Defaults => f.write_str("built-in defaults"),
            Self::File(path) => write!(f, "file {path}"),
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::Override(key) => write!(f, "override {key}"),
            Self::Etcd(key) => write!(f, "etcd key {key}"),
            Self::Unset => f.write_str("not set in any source"),
        }
    }
}

/// One problem found while loading configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The dotted key, such as `server.port`.
    pub key: String,
    /// Where the offending value came from.
    pub origin: Origin,
    /// What was wrong, and what was expected.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {}): {}", self.key, self.origin, self.message)
    }
}

/// Loading configuration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// One or more values are missing, malformed or unknown; all of them are listed.
    #[error("invalid configuration:{}", list(.0))]
    Invalid(Vec<ConfigProblem>),
    /// A configuration file could not be read or parsed.
    #[error("cannot read configuration file {path}: {reason}")]
    File {
        /// The file path.
        path: String,
        /// Why it failed.
        reason: String,
    },
    /// The profile named by `APP_PROFILE` has no file.
    #[error("profile {profile:?} selected by APP_PROFILE has no file {path}")]
    UnknownProfile {
        /// The profile name.
        profile: String,
        /// The file that was expected.
        path: String,
    },
    /// A remote source (the etcd prefix of `reload.etcd_prefix`) could not be read at
    /// start-up.
    #[error("cannot read configuration from {source_name}: {reason}")]
    Remote {
        /// The source, such as `etcd prefix /config/orders/`.
        source_name: String,
        /// Why (URLs without their credentials).
        reason: String,
    },
    /// The service name cannot be used to derive environment variable names.
    #[error("invalid service name {0:?}: use lowercase letters, digits and '-'")]
    InvalidServiceName(String),
}

impl ConfigError {
    /// The individual problems, when the error is [`ConfigError::Invalid`].
    pub fn problems(&self) -> &[ConfigProblem] {
        match self {
            Self::Invalid(problems) => problems,
            _ => &[],
        }
    }
}

fn list(problems: &[ConfigProblem]) -> String {
    use fmt::Write as _;
    let mut out = String::new();
    for problem in problems {
        let _ = write!(out, "\n  - {problem}");
    }
    out
}
