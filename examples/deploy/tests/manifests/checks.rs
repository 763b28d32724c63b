//! The invariants, each check pushing one line per problem.

use std::collections::BTreeMap;
use std::time::Duration;

use chassis::config::DiscoveryBackend;

use super::SERVICES;
use super::exposure::check_exposure;
use super::kube::{Manifests, PortRef, PreStop, Resource};
use super::pod::{Pod, load_pod};
use super::secrets::{check_committed_secrets, check_secret_env};

/// Checks every service and returns the problems found, one line each.
pub(crate) fn check(manifests: &Manifests) -> Vec<String> {
    let mut problems = Vec::new();
    check_namespaces(manifests, &mut problems);
    let mut pods = BTreeMap::new();
    for (name, _) in SERVICES {
        let mut found = Vec::new();
        if let Some(pod) = load_pod(manifests, name, &mut found) {
            check_pod(&pod, &mut found);
            pods.insert(name, pod);
        }
        problems.extend(found.into_iter().map(|p| format!("{name}: {p}")));
    }
    for (name, calls) in SERVICES {
        if let Some(pod) = pods.get(name) {
            let mut found = Vec::new();
            check_discovery(manifests, pod, calls, &pods, &mut found);
            problems.extend(found.into_iter().map(|p| format!("{name}: {p}")));
        }
    }
    check_services(manifests, &pods, &mut problems);
    check_exposure(manifests, &pods, &mut problems);
    check_committed_secrets(manifests, &mut problems);
    problems
}

pub(crate) fn check_namespaces(manifests: &Manifests, problems: &mut Vec<String>) {
    let ns = &manifests.namespace;
    let mut declared = false;
    for resource in &manifests.resources {
        let meta = match resource {
            Resource::Namespace { metadata } => {
                declared |= &metadata.name == ns;
                continue;
            }
            Resource::ConfigMap(c) => &c.metadata,
            Resource::Deployment(d) => &d.metadata,
            Resource::Service(s) => &s.metadata,
            Resource::NetworkPolicy(p) => &p.metadata,
            Resource::Secret(s) => &s.metadata,
            Resource::Other => continue,
        };
        if meta.namespace.as_ref().is_some_and(|n| n != ns) {
            problems.push(format!(
                "{}: namespace {:?}, but kustomization.yaml says {ns:?}",
                meta.name, meta.namespace
            ));
        }
    }
    if !declared {
        problems.push(format!("no Namespace {ns:?} among the resources"));
    }
}

pub(crate) fn check_pod(pod: &Pod<'_>, problems: &mut Vec<String>) {
    let spec = &pod.deployment.spec;
    if spec.replicas.unwrap_or(1) < 2 {
        problems
            .push("fewer than 2 replicas: a rollout or a drained node takes it away".to_owned());
    }
    if spec.selector.match_labels.is_empty()
        || !spec
            .selector
            .match_labels
            .iter()
            .all(|(k, v)| pod.labels().get(k) == Some(v))
    {
        problems.push("the selector does not match the pod template's labels".to_owned());
    }
    let image = format!("chassis-examples/{}:0.1.0", pod.name);
    if pod.container.image != image {
        problems.push(format!(
            "image {:?}, expected {image:?}",
            pod.container.image
        ));
    }
    check_ports(pod, problems);
    check_probes(pod, problems);
    check_grace_period(pod, problems);
    check_hardening(pod, problems);
    check_secret_env(pod, problems);
}

pub(crate) fn check_ports(pod: &Pod<'_>, problems: &mut Vec<String>) {
    let server = &pod.settings.server;
    match pod.port_named("http") {
        Some(port) if port == server.port => {}
        Some(port) => problems.push(format!(
            "container port http is {port}, but server.port is {}",
            server.port
        )),
        None => problems.push("no container port named http".to_owned()),
    }
    match (pod.port_named("admin"), server.admin_port) {
        (Some(port), Some(admin)) if port == admin => {}
        (None, None) => {}
        (port, admin) => problems.push(format!(
            "container port admin is {port:?}, but server.admin_port is {admin:?}"
        )),
    }
}

/// Health is served on the admin port when there is one, else on the service port.
pub(crate) fn check_probes(pod: &Pod<'_>, problems: &mut Vec<String>) {
    let server = &pod.settings.server;
    let health_port = server.admin_port.unwrap_or(server.port);
    let c = pod.container;
    // (name, probe, path, least total time it may fail before Kubernetes acts)
    let probes = [
        ("startupProbe", &c.startup_probe, "/health/startup", 30),
        ("readinessProbe", &c.readiness_probe, "/health/ready", 0),
        ("livenessProbe", &c.liveness_probe, "/health/live", 20),
    ];
    for (kind, probe, path, least) in probes {
        let Some(probe) = probe else {
            problems.push(format!("no {kind}"));
            continue;
        };
        let Some(get) = &probe.http_get else {
            problems.push(format!("{kind} is not an httpGet"));
            continue;
        };
        if get.path != path {
            problems.push(format!("{kind} path is {}, expected {path}", get.path));
        }
        match pod.resolve(&get.port) {
            Some(port) if port == health_port => {}
            port => problems.push(format!(
                "{kind} port {:?} is {port:?}, but health is served on {health_port}",
                get.port
            )),
        }
        // Kubernetes' defaults: period 10s, timeout 1s, failureThreshold 3.
        let period = probe.period_seconds.unwrap_or(10);
        let timeout = probe.timeout_seconds.unwrap_or(1);
        let budget = period * probe.failure_threshold.unwrap_or(3);
        if timeout >= period {
            problems.push(format!(
                "{kind}: timeoutSeconds {timeout} is not below periodSeconds {period}"
            ));
        }
        if budget < least {
            problems.push(format!(
                "{kind}: gives up after {budget}s of failure; at least {least}s expected"
            ));
        }
    }
}

/// How long a preStop hook takes: `sleep: {seconds}` or `exec: ["sleep", "N"]`.
pub(crate) fn pre_stop_length(hook: &PreStop) -> Option<Duration> {
    if let Some(sleep) = &hook.sleep {
        return Some(Duration::from_secs(sleep.seconds));
    }
    match hook.exec.as_ref()?.command.as_slice() {
        [sleep, secs] if sleep.ends_with("sleep") => secs.parse().ok().map(Duration::from_secs),
        _ => None,
    }
}

/// `terminationGracePeriodSeconds` must outlast the whole shutdown sequence: a preStop hook,
/// then the drain delay, the grace period and the hooks (one `hook_timeout` is budgeted).
pub(crate) fn check_grace_period(pod: &Pod<'_>, problems: &mut Vec<String>) {
    let shutdown = &pod.settings.shutdown;
    let pre_stop = match pod
        .container
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
    {
        None => Duration::ZERO,
        Some(hook) => pre_stop_length(hook).unwrap_or_else(|| {
            problems.push("preStop is not a plain sleep, so its length is unknown".to_owned());
            Duration::ZERO
        }),
    };
    let needed = pre_stop + shutdown.drain_delay + shutdown.grace_period + shutdown.hook_timeout;
    // Kubernetes' default when the field is absent.
    let granted = Duration::from_secs(
        pod.deployment
            .spec
            .template
            .spec
            .termination_grace_period_seconds
            .unwrap_or(30),
    );
    if granted <= needed {
        problems.push(format!(
            "terminationGracePeriodSeconds {}s is not above preStop {pre_stop:?} + drain_delay {:?} + grace_period {:?} + hook_timeout {:?} = {needed:?}",
            granted.as_secs(),
            shutdown.drain_delay,
            shutdown.grace_period,
            shutdown.hook_timeout
        ));
    }
}

pub(crate) fn check_hardening(pod: &Pod<'_>, problems: &mut Vec<String>) {
    let c = pod.container;
    match &c.resources {
        Some(r) => {
            for (kind, map) in [("requests", &r.requests), ("limits", &r.limits)] {
                for resource in ["cpu", "memory"] {
                    if !map.contains_key(resource) {
                        problems.push(format!("no resources.{kind}.{resource}"));
                    }
                }
            }
        }
        None => problems.push("no resources".to_owned()),
    }
    let pod_sc = &pod.deployment.spec.template.spec.security_context;
    let sc = &c.security_context;
    if sc.run_as_non_root.or(pod_sc.run_as_non_root) != Some(true) {
        problems.push("runAsNonRoot is not true".to_owned());
    }
    if sc.read_only_root_filesystem != Some(true) {
        problems.push("readOnlyRootFilesystem is not true".to_owned());
    }
    if sc.allow_privilege_escalation != Some(false) {
        problems.push("allowPrivilegeEscalation is not false".to_owned());
    }
}

/// A caller uses DNS discovery in the manifests' namespace, and each service it calls has a
/// headless Service named after it with a port named for the SRV record.
pub(crate) fn check_discovery(
    manifests: &Manifests,
    pod: &Pod<'_>,
    calls: &[&str],
    pods: &BTreeMap<&str, Pod<'_>>,
    problems: &mut Vec<String>,
) {
    let discovery = &pod.settings.discovery;
    // The example's own configuration names the services it calls: keep the table above true.
    for name in discovery
        .static_endpoints
        .keys()
        .chain(pod.settings.clients.keys())
    {
        if !calls.contains(&name.as_str()) {
            problems.push(format!(
                "its configuration calls {name:?}, which the manifests test does not know"
            ));
        }
    }
    if discovery.backend != DiscoveryBackend::Dns {
        problems.push(format!(
            "discovery.backend is {}, expected dns",
            discovery.backend.as_str()
        ));
    }
    let domain = format!("{}.svc.cluster.local", manifests.namespace);
    if discovery.dns.domain.as_deref() != Some(domain.as_str()) {
        problems.push(format!(
            "discovery.dns.domain is {:?}, expected {domain:?}",
            discovery.dns.domain
        ));
    }
    let port_name = &discovery.dns.port_name;
    for &callee in calls {
        let Some(service) = manifests.service(callee) else {
            problems.push(format!("calls {callee}, which has no Service"));
            continue;
        };
        if service.spec.cluster_ip.as_deref() != Some("None") {
            problems.push(format!("calls {callee}, whose Service is not headless"));
        }
        if service.spec.publish_not_ready_addresses == Some(true) {
            problems.push(format!(
                "calls {callee}, whose Service publishes pods that are not ready"
            ));
        }
        let Some(port) = service
            .spec
            .ports
            .iter()
            .find(|p| p.name.as_deref() == Some(port_name))
        else {
            problems.push(format!(
                "calls {callee}, whose Service has no port named {port_name} (SRV _{port_name}._tcp)"
            ));
            continue;
        };
        if port.protocol.as_deref().unwrap_or("TCP") != "TCP" {
            problems.push(format!("calls {callee}, whose {port_name} port is not TCP"));
        }
        if let Some(target) = pods.get(callee) {
            let resolved = target.resolve(
                port.target_port
                    .as_ref()
                    .unwrap_or(&PortRef::Number(port.port)),
            );
            if resolved != Some(target.settings.server.port) {
                problems.push(format!(
                    "calls {callee}, whose Service port {port_name} reaches {resolved:?}, not its server.port {}",
                    target.settings.server.port
                ));
            }
        }
    }
}

/// Every Service selects the pods of one of the Deployments and reaches a declared port.
pub(crate) fn check_services(
    manifests: &Manifests,
    pods: &BTreeMap<&str, Pod<'_>>,
    problems: &mut Vec<String>,
) {
    for service in manifests.services() {
        let name = &service.metadata.name;
        let selected = pods.values().find(|pod| {
            !service.spec.selector.is_empty()
                && service
                    .spec
                    .selector
                    .iter()
                    .all(|(k, v)| pod.labels().get(k) == Some(v))
        });
        let Some(pod) = selected else {
            problems.push(format!("Service {name}: selects no Deployment's pods"));
            continue;
        };
        for port in &service.spec.ports {
            let target = port
                .target_port
                .clone()
                .unwrap_or(PortRef::Number(port.port));
            let declared = pod
                .resolve(&target)
                .is_some_and(|p| pod.container.ports.iter().any(|c| c.container_port == p));
            if !declared {
                problems.push(format!(
                    "Service {name}: port {} targets {target:?}, which {} does not declare",
                    port.port, pod.name
                ));
            }
        }
    }
    if manifests.service("gateway").is_none() {
        problems.push("gateway: no Service in front of the public edge".to_owned());
    }
}
