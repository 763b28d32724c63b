//! Secrets stay out of the manifests: the admin token comes from a Kubernetes Secret, no
//! variable that names a secret has a literal value, and no Secret with values is committed.

use super::kube::{Manifests, Resource};
use super::pod::{Pod, env_prefix};

/// Words that mark an environment variable as carrying a secret.
const SECRET_WORDS: [&str; 7] = [
    "TOKEN",
    "PASSWORD",
    "SECRET",
    "CREDENTIAL",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
];

/// Every variable that names a secret is read from a Secret; with an admin port, the admin
/// token is one of them.
pub(crate) fn check_secret_env(pod: &Pod<'_>, problems: &mut Vec<String>) {
    for var in &pod.container.env {
        let name = var.name.to_ascii_uppercase();
        if var.value.is_some() && SECRET_WORDS.iter().any(|w| name.contains(w)) {
            problems.push(format!(
                "{}: a literal value in the manifest; read it from a Secret (valueFrom.secretKeyRef)",
                var.name
            ));
        }
    }
    check_admin_token(pod, problems);
}

/// `/admin` exists only with a token: a Deployment with an admin port reads it from a Secret
/// that must exist (not `optional`), never from a file of the image or the ConfigMap.
fn check_admin_token(pod: &Pod<'_>, problems: &mut Vec<String>) {
    if pod.settings.server.admin_port.is_none() {
        return;
    }
    let name = format!("{}__SERVER__ADMIN_TOKEN", env_prefix(pod.name));
    let Some(var) = pod.container.env.iter().find(|v| v.name == name) else {
        problems.push(if pod.settings.server.admin_token.is_some() {
            format!(
                "server.admin_token is set in a file (the ConfigMap or the example's defaults); read it from a Secret through {name}"
            )
        } else {
            format!("no {name} from a Secret, so the admin port serves no /admin")
        });
        return;
    };
    match var.secret_key_ref() {
        Some(secret) if secret.optional == Some(true) => problems.push(format!(
            "{name}: the key {} of the Secret {} is optional, so a pod without it starts with no /admin",
            secret.key, secret.name
        )),
        Some(_) => {}
        // A literal value is reported above.
        None if var.value.is_some() => {}
        None => problems.push(format!("{name} is not read from a Secret")),
    }
}

/// A Secret in the manifests would be a committed token: Secrets are created beside them.
pub(crate) fn check_committed_secrets(manifests: &Manifests, problems: &mut Vec<String>) {
    for resource in &manifests.resources {
        if let Resource::Secret(secret) = resource
            && !(secret.data.is_empty() && secret.string_data.is_empty())
        {
            problems.push(format!(
                "Secret {}: committed with values; create it with kubectl instead (README.md, \"The admin token\")",
                secret.metadata.name
            ));
        }
    }
}
