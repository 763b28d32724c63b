//! Layered, typed configuration.
//!
//! Sources, later wins: built-in defaults, the service's embedded defaults,
//! `config/default.toml`, `config/{APP_PROFILE}.toml`, environment variables named
//! `{SERVICE}__{SECTION}__{KEY}` (service name upper-case with `-` as `_`, `__` between
//! levels, lists comma-separated), and overrides given in code.
//!
//! The chassis owns the sections `server`, `shutdown`, `telemetry`, `discovery`, `faults`,
//! `clients` and `reload`; every other top-level key belongs to the service's own settings type.
//! Loading checks everything at once: a bad value, an unknown key in a chassis section or a
//! missing required key each become one [`ConfigProblem`] naming the key, the source and
//! what was expected, and the service stops before binding any port.
//!
//! ```
//! use chassis::config::{ConfigLoader, Origin};
//!
//! let err = ConfigLoader::new("catalog")?
//!     .env([
//!         ("CATALOG__SERVER__PORT".to_owned(), "abc".to_owned()),
//!         ("CATALOG__SERVER__PROT".to_owned(), "80".to_owned()),
//!     ])
//!     .load::<()>()
//!     .unwrap_err();
//! let keys: Vec<_> = err.problems().iter().map(|p| p.key.as_str()).collect();
//! assert_eq!(keys, ["server.port", "server.prot"]);
//! assert_eq!(err.problems()[0].origin, Origin::Env("CATALOG__SERVER__PORT".into()));
//! # Ok::<(), chassis::config::ConfigError>(())
//! ```

mod collect;
pub mod duration;
mod effective;
mod error;
mod flat;
pub mod list;
pub(crate) mod loader;
pub(crate) mod redact;
pub mod reload;
mod secret;
mod sections;
mod settings;
mod size;
mod source;
mod stand_in;
mod trust;
mod watch;

pub use crate::discovery::{
    DiscoveryBackend, DiscoveryConfig, DnsConfig, EtcdConfig, StaticEndpoints,
};
pub use effective::{EffectiveConfig, EffectiveValue};
pub use error::{ConfigError, ConfigProblem, Origin};
pub use loader::{
    CONFIG_DIR_ENV, ConfigLoader, LoadedConfig, PROFILE_ENV, env_prefix, is_valid_service_name,
};
pub use secret::Secret;
pub use sections::{FaultsConfig, GrpcServerConfig, ReloadConfig, ServerConfig, ShutdownConfig};
pub use settings::Settings;
pub use size::{ByteSize, InvalidSize};
pub use trust::{InvalidPeerRange, PeerRange, RequestIdPolicy, TrustConfig, TrustMode};
pub use watch::ConfigWatch;
