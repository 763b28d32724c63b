//! Live configuration: sources that change while the service runs, validated whole and
//! applied whole or refused whole.
//!
//! A reload (a file changed, SIGHUP, an etcd key, `POST /admin/config/reload`) loads every
//! source again, in the order of start-up, and checks the result as start-up does. An
//! invalid configuration is refused: the same one report is logged and answered, and the
//! last good configuration stays, nothing of the new one applied. A valid one is compared
//! with what runs, key by key: keys that change live (see `docs/configuration.md`, "Live
//! changes") are handed to the parts that use them; keys that need a restart keep their
//! running values and are reported (and shown as pending in the effective configuration),
//! never silently ignored. Each reload counts `chassis_config_reloads_total{result}`.
//!
//! ```
//! # use axum::Router;
//! # use chassis::service::{Context, Launcher, Microservice};
//! # struct Orders;
//! # impl Microservice for Orders {
//! #     type Config = ();
//! #     const NAME: &'static str = "orders";
//! #     const VERSION: &'static str = "0.1.0";
//! #     async fn router(_: Context<()>) -> Result<Router, tower::BoxError> { Ok(Router::new()) }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use chassis::config::reload::ReloadResult;
//!
//! let dir = tempfile::tempdir()?;
//! let file = dir.path().join("default.toml");
//! std::fs::write(&file, "[clients.catalog]\ntimeout = \"1s\"\n")?;
//! let orders = Launcher::<Orders>::new()?
//!     .dir(dir.path())
//!     .set("server.port", 0)
//!     .set("shutdown.drain_delay", "0s")
//!     .spawn()
//!     .await?;
//!
//! std::fs::write(&file, "[clients.catalog]\ntimeout = \"5s\"\n")?;
//! let report = orders.reload_handle().reload().await.expect("running");
//! assert_eq!(report.result, ReloadResult::Applied);
//! assert_eq!(report.changed, ["clients.catalog.timeout"]);
//! let timeout = &orders.reload_handle().effective().keys["clients.catalog.timeout"];
//! assert_eq!(timeout.value, "5s");
//!
//! std::fs::write(&file, "[clients.catalog]\ntimeout = \"soon\"\n")?;
//! let refused = orders.reload_handle().reload().await.expect("running");
//! assert_eq!(refused.result, ReloadResult::Refused);
//! assert_eq!(refused.problems[0].key, "clients.catalog.timeout");
//! orders.shutdown().await;
//! # Ok(()) }
//! ```

#[cfg(feature = "etcd")]
mod etcd;
mod files;
mod handle;
mod hangup;
mod keys;
mod report;

use std::sync::Arc;

use serde::de::DeserializeOwned;

#[cfg(feature = "etcd")]
pub(crate) use etcd::{EtcdSource, EtcdValues};
pub(crate) use files::watch_files;
pub use handle::ReloadHandle;
pub(crate) use handle::{ReloadRequest, reload_channel};
pub(crate) use hangup::on_hangup;
pub(crate) use keys::LiveKeys;
pub use report::{ReloadReport, ReloadResult, ReloadTrigger, ReportedProblem};

use super::flat::{Flat, changed_keys};
use super::loader::FullLoad;
use super::{ConfigLoader, EffectiveConfig, Settings};

/// What a reload hands to the parts that change live.
#[derive(Debug)]
pub(crate) struct Change<T> {
    /// The new chassis sections (only their live keys are to be applied).
    pub(crate) settings: Arc<Settings>,
    /// The service's new settings, when one of its keys changed.
    pub(crate) app: Option<Arc<T>>,
    /// The live keys that changed.
    pub(crate) keys: Vec<String>,
}

impl<T> Change<T> {
    /// Whether a key at or below `prefix` changed.
    pub(crate) fn touches(&self, prefix: &str) -> bool {
        self.keys
            .iter()
            .any(|key| key == prefix || key.starts_with(&format!("{prefix}.")))
    }
}

/// The reload pipeline of one service: its loader, what runs, what ran at start.
#[derive(Debug)]
pub(crate) struct Reloader {
    loader: ConfigLoader,
    live: LiveKeys,
    /// The keys at start: a key that needs a restart runs with its value from then.
    startup: Flat,
    startup_effective: EffectiveConfig,
    /// The keys of the configuration last applied.
    current: Flat,
    /// The values under the etcd prefix, as last read.
    #[cfg(feature = "etcd")]
    etcd: Option<EtcdValues>,
}

impl Reloader {
    /// A pipeline that reloads with `loader`, starting from `full` (what start-up loaded).
    pub(crate) fn new<T>(loader: ConfigLoader, full: &FullLoad<T>) -> Self {
        let settings = &full.config.settings;
        let live = LiveKeys {
            faults: settings.faults.enabled,
            static_discovery: settings.discovery.backend
                == crate::discovery::DiscoveryBackend::Static,
            log_level: true,
        };
        let effective = EffectiveConfig::new(settings, &full.keys, &full.app_secrets);
        Self {
            loader,
            live,
            startup: full.keys.clone(),
            startup_effective: effective,
            current: full.keys.clone(),
            #[cfg(feature = "etcd")]
            etcd: None,
        }
    }

    /// Whether `telemetry.log.level` changes live: not when `RUST_LOG` set the filter, or
    /// when another subscriber owns the logs.
    pub(crate) fn log_level_live(&mut self, live: bool) {
        self.live.log_level = live;
    }

    /// Reads the etcd values from `values` at each reload.
    #[cfg(feature = "etcd")]
    pub(crate) fn follow_etcd(&mut self, values: EtcdValues) {
        self.etcd = Some(values);
    }

    /// The files the loader reads.
    pub(crate) fn files(&self) -> Vec<std::path::PathBuf> {
        self.loader.files()
    }

    /// The effective configuration at start.
    pub(crate) fn startup_effective(&self) -> &EffectiveConfig {
        &self.startup_effective
    }

    /// Loads every source again and judges the result: the report, and what to apply
    /// with the effective configuration after it (none when refused or unchanged).
    pub(crate) fn reload<T: DeserializeOwned>(
        &mut self,
        trigger: ReloadTrigger,
    ) -> (ReloadReport, Option<(Change<T>, EffectiveConfig)>) {
        #[cfg(feature = "etcd")]
        if let Some(values) = &self.etcd {
            self.loader.set_etcd(values.snapshot());
        }
        let full = match self.loader.load_full::<T>() {
            Ok(full) => full,
            Err(error) => return (ReloadReport::refused(trigger, &error), None),
        };
        let changed = changed_keys(&self.current, &full.keys);
        let any_change = !changed.is_empty();
        let (live, mut restart): (Vec<String>, Vec<String>) =
            changed.into_iter().partition(|key| self.live.is_live(key));
        // TLS files are read when a client is built, at the next start: read them now, so a
        // change that would fail that start is refused while the old values still run.
        if let Some(error) = unusable_tls(&full, &restart) {
            return (ReloadReport::refused(trigger, &error), None);
        }
        // A key that needs a restart but is back at the value it started with needs none.
        let from_startup = changed_keys(&self.startup, &full.keys);
        restart.retain(|key| from_startup.contains(key));
        let result = match (live.is_empty(), restart.is_empty()) {
            (true, true) => ReloadResult::Unchanged,
            (true, false) => ReloadResult::NeedsRestart,
            (false, _) => ReloadResult::Applied,
        };
        let report = ReloadReport {
            result,
            trigger,
            changed: live.clone(),
            needs_restart: restart,
            problems: Vec::new(),
            error: None,
        };
        // Keys that went back to what runs change nothing, but what `/admin/config` shows
        // as pending a restart does: the effective configuration is still handed on.
        if result == ReloadResult::Unchanged && !any_change {
            return (report, None);
        }
        let effective = self.effective(&full);
        let app_changed = live
            .iter()
            .any(|key| !super::settings::CHASSIS_SECTIONS.contains(&section(key)));
        let LoadedParts { settings, app } = LoadedParts::from(full.config);
        self.current = full.keys;
        let change = Change {
            settings: Arc::new(settings),
            app: app_changed.then(|| Arc::new(app)),
            keys: live,
        };
        (report, Some((change, effective)))
    }

    /// The effective configuration of `full`, keys that need a restart at their running
    /// values, and listed as pending with their new ones.
    fn effective<T>(&self, full: &FullLoad<T>) -> EffectiveConfig {
        let mut effective =
            EffectiveConfig::new(&full.config.settings, &full.keys, &full.app_secrets);
        let pending: Vec<String> = changed_keys(&self.startup, &full.keys)
            .into_iter()
            .filter(|key| !self.live.is_live(key))
            .collect();
        for key in pending {
            let new = effective.keys.remove(&key);
            if let Some(running) = self.startup_effective.keys.get(&key) {
                effective.keys.insert(key.clone(), running.clone());
            }
            let new = new.unwrap_or_else(|| super::EffectiveValue {
                value: serde_json::Value::Null,
                source: "removed from every source".to_owned(),
            });
            effective.pending_restart.insert(key, new);
        }
        effective
    }
}

/// A refusal naming each client whose TLS settings (or `url`) changed in `changed` and whose
/// certificate or key files cannot be used.
fn unusable_tls<T>(full: &FullLoad<T>, changed: &[String]) -> Option<super::ConfigError> {
    let mut problems = Vec::new();
    for (name, client) in &full.config.settings.clients {
        let prefix = format!("clients.{name}.");
        let touched = changed.iter().find(|key| {
            key.strip_prefix(&prefix)
                .is_some_and(|rest| rest.starts_with("tls.") || rest == "url")
        });
        let Some(key) = touched else { continue };
        if !client.uses_tls() {
            continue;
        }
        if let Err(error) = crate::client::tls::client_config(&client.tls) {
            problems.push(super::ConfigProblem {
                key: key.clone(),
                origin: full
                    .keys
                    .get(key)
                    .map_or(super::Origin::Defaults, |entry| entry.origin.clone()),
                message: error.to_string(),
            });
        }
    }
    (!problems.is_empty()).then_some(super::ConfigError::Invalid(problems))
}

/// The typed parts of a load.
struct LoadedParts<T> {
    settings: Settings,
    app: T,
}

impl<T> From<super::LoadedConfig<T>> for LoadedParts<T> {
    fn from(config: super::LoadedConfig<T>) -> Self {
        Self {
            settings: config.settings,
            app: config.app,
        }
    }
}

fn section(key: &str) -> &str {
    key.split('.').next().unwrap_or_default()
}
