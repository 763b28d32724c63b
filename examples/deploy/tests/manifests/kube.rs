//! The Kubernetes objects, as far as the checks read them (unknown fields are ignored), and
//! loading them from `kustomization.yaml` and the files it lists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind")]
pub(crate) enum Resource {
    Namespace {
        metadata: Meta,
    },
    ConfigMap(ConfigMap),
    Deployment(Box<Deployment>),
    Service(Service),
    NetworkPolicy(NetworkPolicy),
    Secret(Secret),
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Meta {
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
}

/// A pod template's metadata: it has no name of its own.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct TemplateMeta {
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ConfigMap {
    pub(crate) metadata: Meta,
    #[serde(default)]
    pub(crate) data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Deployment {
    pub(crate) metadata: Meta,
    pub(crate) spec: DeploymentSpec,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DeploymentSpec {
    pub(crate) replicas: Option<u32>,
    pub(crate) selector: Selector,
    pub(crate) template: PodTemplate,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Selector {
    #[serde(default)]
    pub(crate) match_labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PodTemplate {
    pub(crate) metadata: TemplateMeta,
    pub(crate) spec: PodSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodSpec {
    pub(crate) termination_grace_period_seconds: Option<u64>,
    #[serde(default)]
    pub(crate) security_context: SecurityContext,
    pub(crate) containers: Vec<Container>,
    #[serde(default)]
    pub(crate) volumes: Vec<Volume>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecurityContext {
    pub(crate) run_as_non_root: Option<bool>,
    pub(crate) read_only_root_filesystem: Option<bool>,
    pub(crate) allow_privilege_escalation: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Container {
    pub(crate) name: String,
    pub(crate) image: String,
    #[serde(default)]
    pub(crate) ports: Vec<ContainerPort>,
    #[serde(default)]
    pub(crate) env: Vec<EnvVar>,
    pub(crate) startup_probe: Option<Probe>,
    pub(crate) readiness_probe: Option<Probe>,
    pub(crate) liveness_probe: Option<Probe>,
    pub(crate) lifecycle: Option<Lifecycle>,
    pub(crate) resources: Option<Resources>,
    #[serde(default)]
    pub(crate) security_context: SecurityContext,
    #[serde(default)]
    pub(crate) volume_mounts: Vec<VolumeMount>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerPort {
    pub(crate) name: Option<String>,
    pub(crate) container_port: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnvVar {
    pub(crate) name: String,
    pub(crate) value: Option<String>,
    pub(crate) value_from: Option<EnvSource>,
}

impl EnvVar {
    /// The Secret key the variable is read from, if it is.
    pub(crate) fn secret_key_ref(&self) -> Option<&KeyRef> {
        self.value_from.as_ref()?.secret_key_ref.as_ref()
    }
}

/// `valueFrom`: only `secretKeyRef` is read (`fieldRef`, `configMapKeyRef`, ... are not).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnvSource {
    pub(crate) secret_key_ref: Option<KeyRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct KeyRef {
    pub(crate) name: String,
    pub(crate) key: String,
    pub(crate) optional: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Probe {
    pub(crate) http_get: Option<HttpGet>,
    pub(crate) period_seconds: Option<u64>,
    pub(crate) timeout_seconds: Option<u64>,
    pub(crate) failure_threshold: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct HttpGet {
    pub(crate) path: String,
    pub(crate) port: PortRef,
}

/// A port by number or by name (Kubernetes' IntOrString).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub(crate) enum PortRef {
    Number(u16),
    Name(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Lifecycle {
    pub(crate) pre_stop: Option<PreStop>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PreStop {
    pub(crate) exec: Option<ExecAction>,
    pub(crate) sleep: Option<SleepAction>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ExecAction {
    pub(crate) command: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SleepAction {
    pub(crate) seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Resources {
    #[serde(default)]
    pub(crate) requests: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) limits: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VolumeMount {
    pub(crate) name: String,
    pub(crate) mount_path: String,
    pub(crate) read_only: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Volume {
    pub(crate) name: String,
    pub(crate) config_map: Option<ConfigMapRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ConfigMapRef {
    pub(crate) name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Service {
    pub(crate) metadata: Meta,
    pub(crate) spec: ServiceSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceSpec {
    #[serde(rename = "clusterIP")]
    pub(crate) cluster_ip: Option<String>,
    pub(crate) publish_not_ready_addresses: Option<bool>,
    #[serde(default)]
    pub(crate) selector: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) ports: Vec<ServicePort>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServicePort {
    pub(crate) name: Option<String>,
    pub(crate) port: u16,
    pub(crate) target_port: Option<PortRef>,
    pub(crate) protocol: Option<String>,
}

/// A Secret: only whether it carries values matters (none may be committed).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Secret {
    pub(crate) metadata: Meta,
    #[serde(default)]
    pub(crate) data: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) string_data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NetworkPolicy {
    pub(crate) metadata: Meta,
    pub(crate) spec: NetworkPolicySpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NetworkPolicySpec {
    pub(crate) pod_selector: LabelSelector,
    #[serde(default)]
    pub(crate) policy_types: Vec<String>,
    #[serde(default)]
    pub(crate) ingress: Vec<IngressRule>,
}

/// A label selector; `matchExpressions` are noted, not evaluated.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LabelSelector {
    #[serde(default)]
    pub(crate) match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) match_expressions: Vec<IgnoredAny>,
}

/// One ingress rule: no `from` admits every source, no `ports` every port.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct IngressRule {
    #[serde(default)]
    pub(crate) from: Vec<PolicyPeer>,
    #[serde(default)]
    pub(crate) ports: Vec<PolicyPort>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PolicyPeer {
    pub(crate) pod_selector: Option<LabelSelector>,
    pub(crate) namespace_selector: Option<LabelSelector>,
    pub(crate) ip_block: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PolicyPort {
    pub(crate) port: Option<PortRef>,
    pub(crate) end_port: Option<u16>,
    pub(crate) protocol: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Kustomization {
    pub(crate) namespace: Option<String>,
    #[serde(default)]
    pub(crate) resources: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Loading.

/// Every resource of the kustomization, and the namespace it puts them in.
#[derive(Debug, Clone)]
pub(crate) struct Manifests {
    pub(crate) namespace: String,
    pub(crate) resources: Vec<Resource>,
}

impl Manifests {
    pub(crate) fn deployment(&self, name: &str) -> Option<&Deployment> {
        self.resources.iter().find_map(|r| match r {
            Resource::Deployment(d) if d.metadata.name == name => Some(&**d),
            _ => None,
        })
    }

    pub(crate) fn deployment_mut(&mut self, name: &str) -> &mut Deployment {
        self.resources
            .iter_mut()
            .find_map(|r| match r {
                Resource::Deployment(d) if d.metadata.name == name => Some(&mut **d),
                _ => None,
            })
            .expect("deployment in the manifests")
    }

    pub(crate) fn service(&self, name: &str) -> Option<&Service> {
        self.services().find(|s| s.metadata.name == name)
    }

    pub(crate) fn services(&self) -> impl Iterator<Item = &Service> {
        self.resources.iter().filter_map(|r| match r {
            Resource::Service(s) => Some(s),
            _ => None,
        })
    }

    pub(crate) fn network_policies(&self) -> impl Iterator<Item = &NetworkPolicy> {
        self.resources.iter().filter_map(|r| match r {
            Resource::NetworkPolicy(p) => Some(p),
            _ => None,
        })
    }

    pub(crate) fn config_map(&self, name: &str) -> Option<&ConfigMap> {
        self.resources.iter().find_map(|r| match r {
            Resource::ConfigMap(c) if c.metadata.name == name => Some(c),
            _ => None,
        })
    }
}

pub(crate) fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Reads `kustomization.yaml` and every file it lists. Panics when one is missing, does not
/// parse, or when a YAML file in the folder is not listed (it would never be applied).
pub(crate) fn load_manifests() -> Manifests {
    let dir = deploy_dir();
    let kustomization: Kustomization =
        serde_norway::from_str(&read(&dir.join("kustomization.yaml")))
            .expect("kustomization.yaml parses");
    let namespace = kustomization
        .namespace
        .expect("kustomization.yaml sets a namespace");
    for entry in std::fs::read_dir(&dir).expect("examples/deploy is readable") {
        let file = entry.expect("directory entry").file_name();
        let file = file.to_string_lossy();
        if file.ends_with(".yaml") && file != "kustomization.yaml" {
            assert!(
                kustomization.resources.iter().any(|r| r == &*file),
                "{file} is not listed in kustomization.yaml resources"
            );
        }
    }
    let mut resources = Vec::new();
    for file in &kustomization.resources {
        let text = read(&dir.join(file));
        for document in serde_norway::Deserializer::from_str(&text) {
            let resource = Resource::deserialize(document)
                .unwrap_or_else(|e| panic!("{file}: a document does not parse: {e}"));
            resources.push(resource);
        }
    }
    Manifests {
        namespace,
        resources,
    }
}

/// The example's `config/default.toml`, which the `#[chassis::service]` macro compiles into
/// the binary as its defaults.
pub(crate) fn example_defaults(service: &str) -> String {
    let path = deploy_dir()
        .join("..")
        .join(service)
        .join("config/default.toml");
    read(&path)
}
