//! The configuration a pod runs with, loaded through the chassis' own loader.

use std::collections::BTreeMap;

use chassis::config::{ConfigLoader, Settings};
use serde::de::IgnoredAny;

use super::SECTIONS;
use super::kube::{Container, Deployment, Manifests, PortRef, example_defaults};

/// What a variable read from a Secret (`valueFrom.secretKeyRef`) is loaded as: the test cannot
/// read the Secret, and an admin token must be at least 16 characters.
pub(crate) const SECRET_STAND_IN: &str = "stand-in-for-a-value-from-a-secret";

/// The settings `service` loads in its pod: chassis defaults, the example's defaults, the files
/// of the mounted ConfigMap (`default.toml`, and `{APP_PROFILE}.toml` when a profile is set),
/// then the environment.
pub(crate) fn pod_settings(
    service: &str,
    defaults: &str,
    files: &BTreeMap<String, String>,
    env: &[(String, String)],
) -> Result<Settings, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).map_err(|e| format!("{name}: {e}"))?;
    }
    let profile = env
        .iter()
        .find(|(k, _)| k == "APP_PROFILE")
        .map(|(_, v)| v.clone());
    // The loader keeps the embedded defaults for the life of the process, as the binary does.
    let defaults: &'static str = Box::leak(defaults.to_owned().into_boxed_str());
    ConfigLoader::new(service)
        .and_then(|loader| {
            loader
                .embedded_defaults(defaults)
                .dir(dir.path())
                .profile(profile)
                .env(env.iter().cloned())
                .load::<IgnoredAny>()
        })
        .map(|loaded| loaded.settings)
        .map_err(|e| e.to_string())
}

/// `ORDERS` for `orders`, `ORDER_HISTORY` for `order-history`.
pub(crate) fn env_prefix(service: &str) -> String {
    service.to_uppercase().replace('-', "_")
}

// ---------------------------------------------------------------------------------------------
// The checks.

/// A service's Deployment with the settings its pod runs with.
pub(crate) struct Pod<'a> {
    pub(crate) name: &'a str,
    pub(crate) deployment: &'a Deployment,
    pub(crate) container: &'a Container,
    pub(crate) settings: Settings,
}

impl Pod<'_> {
    /// The container port a probe or Service port refers to.
    pub(crate) fn resolve(&self, port: &PortRef) -> Option<u16> {
        match port {
            PortRef::Number(n) => Some(*n),
            PortRef::Name(name) => self
                .container
                .ports
                .iter()
                .find(|p| p.name.as_deref() == Some(name))
                .map(|p| p.container_port),
        }
    }

    pub(crate) fn port_named(&self, name: &str) -> Option<u16> {
        self.resolve(&PortRef::Name(name.to_owned()))
    }

    pub(crate) fn labels(&self) -> &BTreeMap<String, String> {
        &self.deployment.spec.template.metadata.labels
    }
}

/// Finds the Deployment and its container, and loads the settings of its pod.
pub(crate) fn load_pod<'a>(
    manifests: &'a Manifests,
    name: &'a str,
    problems: &mut Vec<String>,
) -> Option<Pod<'a>> {
    let Some(deployment) = manifests.deployment(name) else {
        problems.push("no Deployment".to_owned());
        return None;
    };
    let Some(container) = deployment
        .spec
        .template
        .spec
        .containers
        .iter()
        .find(|c| c.name == name)
    else {
        problems.push(format!("no container named {name:?}"));
        return None;
    };
    let prefix = format!("{}__", env_prefix(name));
    let defaults = example_defaults(name);
    let own_keys: Vec<String> = toml::from_str::<toml::Table>(&defaults)
        .unwrap_or_else(|e| panic!("examples/{name}/config/default.toml does not parse: {e}"))
        .into_iter()
        .filter(|(_, v)| !v.is_table())
        .map(|(k, _)| k)
        .collect();
    let mut env = Vec::new();
    for var in &container.env {
        check_env_name(&var.name, &prefix, &own_keys, problems);
        match (&var.value, &var.value_from) {
            (Some(value), _) => env.push((var.name.clone(), value.clone())),
            // The Secret's value cannot be read here: a stand-in long enough to be accepted.
            (None, Some(_)) if var.secret_key_ref().is_some() => {
                env.push((var.name.clone(), SECRET_STAND_IN.to_owned()));
            }
            (None, Some(_)) if var.name.starts_with(&prefix) => {
                problems.push(format!("{}: valueFrom cannot be checked", var.name));
            }
            _ => {}
        }
    }
    let files = config_files(manifests, deployment, container, &env, problems);
    match pod_settings(name, &defaults, &files, &env) {
        Ok(settings) => Some(Pod {
            name,
            deployment,
            container,
            settings,
        }),
        Err(error) => {
            problems.push(format!("the pod's configuration does not load: {error}"));
            None
        }
    }
}

/// `{SERVICE}__{SECTION}__...` must name a chassis section or one of the service's own
/// top-level settings; a single `_` after the service name is a common slip.
pub(crate) fn check_env_name(
    name: &str,
    prefix: &str,
    own_keys: &[String],
    problems: &mut Vec<String>,
) {
    if let Some(rest) = name.strip_prefix(prefix) {
        let section = rest.split("__").next().unwrap_or_default().to_lowercase();
        if !SECTIONS.contains(&section.as_str()) && !own_keys.contains(&section) {
            problems.push(format!(
                "{name}: {section:?} is neither a chassis section ({}) nor a setting of the service ({})",
                SECTIONS.join(", "),
                own_keys.join(", ")
            ));
        }
    } else if name.starts_with(prefix.trim_end_matches('_')) && !name.starts_with(prefix) {
        problems.push(format!(
            "{name}: the chassis reads {prefix}SECTION__KEY (double underscores)"
        ));
    }
}

/// The files of the ConfigMap mounted at `APP_CONFIG_DIR`; the directory must be the mount.
pub(crate) fn config_files(
    manifests: &Manifests,
    deployment: &Deployment,
    container: &Container,
    env: &[(String, String)],
    problems: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let Some((_, dir)) = env.iter().find(|(k, _)| k == "APP_CONFIG_DIR") else {
        problems.push("APP_CONFIG_DIR is not set".to_owned());
        return BTreeMap::new();
    };
    let Some(mount) = container
        .volume_mounts
        .iter()
        .find(|m| &m.mount_path == dir)
    else {
        problems.push(format!("nothing is mounted at APP_CONFIG_DIR {dir}"));
        return BTreeMap::new();
    };
    if mount.read_only != Some(true) {
        problems.push(format!("the mount at {dir} is not readOnly"));
    }
    let config_map = deployment
        .spec
        .template
        .spec
        .volumes
        .iter()
        .find(|v| v.name == mount.name)
        .and_then(|v| v.config_map.as_ref())
        .and_then(|r| manifests.config_map(&r.name));
    let Some(config_map) = config_map else {
        problems.push(format!(
            "the volume at {dir} is not a ConfigMap of the manifests"
        ));
        return BTreeMap::new();
    };
    if !config_map.data.contains_key("default.toml") {
        problems.push(format!(
            "ConfigMap {} has no default.toml",
            config_map.metadata.name
        ));
    }
    config_map.data.clone()
}
