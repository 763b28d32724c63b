//! Who can reach what. NetworkPolicies admit each service's port `http` from the services whose
//! configuration calls it, and only from them (the public edge, which nobody calls, from
//! anywhere), and the admin port from the namespace `monitoring` only; the public edge takes
//! no caller's hints as given (`server.trust.mode = "edge"`).

use std::collections::{BTreeMap, BTreeSet};

use chassis::config::TrustMode;

use super::SERVICES;
use super::kube::{IngressRule, LabelSelector, Manifests, NetworkPolicy, PolicyPeer};
use super::pod::Pod;

/// The namespace label that admits Prometheus to the admin port.
const MONITORING: (&str, &str) = ("kubernetes.io/metadata.name", "monitoring");

/// The services a pod calls, as its configuration names them (static endpoints and clients).
pub(crate) fn calls_of(pod: &Pod<'_>) -> BTreeSet<String> {
    let settings = &pod.settings;
    settings
        .discovery
        .static_endpoints
        .keys()
        .chain(settings.clients.keys())
        .cloned()
        .collect()
}

pub(crate) fn check_exposure(
    manifests: &Manifests,
    pods: &BTreeMap<&str, Pod<'_>>,
    problems: &mut Vec<String>,
) {
    for policy in manifests.network_policies() {
        let spec = &policy.spec;
        let peers = spec.ingress.iter().flat_map(|r| &r.from);
        let selectors = peers
            .flat_map(|p| [&p.pod_selector, &p.namespace_selector])
            .flatten()
            .chain([&spec.pod_selector]);
        if selectors
            .into_iter()
            .any(|s| !s.match_expressions.is_empty())
        {
            problems.push(format!(
                "NetworkPolicy {}: matchExpressions are not evaluated by this test; use matchLabels",
                policy.metadata.name
            ));
        }
    }
    // Who calls whom: each pod's configuration; the table in main.rs for a pod that did not
    // load (its problem is reported already).
    let calls: BTreeMap<&str, BTreeSet<String>> = SERVICES
        .iter()
        .map(|&(name, table)| {
            let named = pods
                .get(name)
                .map_or_else(|| table.iter().map(|&c| c.to_owned()).collect(), calls_of);
            (name, named)
        })
        .collect();
    for (&name, pod) in pods {
        let callers: Vec<&str> = calls
            .iter()
            .filter(|(_, called)| called.contains(name))
            .map(|(&caller, _)| caller)
            .collect();
        let mut found = Vec::new();
        check_policies(manifests, pod, &callers, pods, &mut found);
        if callers.is_empty() && pod.settings.server.trust.mode != TrustMode::Edge {
            found.push(format!(
                "is the public edge (no service calls it), but server.trust.mode is {:?}: expected edge, so that no caller's deadline, trace context, baggage or request id is taken as given",
                pod.settings.server.trust.mode
            ));
        }
        problems.extend(found.into_iter().map(|p| format!("{name}: {p}")));
    }
}

/// A rule of a NetworkPolicy, with the policy's name for the report.
type Rule<'a> = (&'a str, &'a IngressRule);

fn check_policies(
    manifests: &Manifests,
    pod: &Pod<'_>,
    callers: &[&str],
    pods: &BTreeMap<&str, Pod<'_>>,
    problems: &mut Vec<String>,
) {
    let policies: Vec<&NetworkPolicy> = manifests
        .network_policies()
        .filter(|p| restricts_ingress(p) && selects(&p.spec.pod_selector, pod.labels()))
        .collect();
    if policies.is_empty() {
        problems.push(
            "no NetworkPolicy selects its pods: every port is open to every pod of the cluster"
                .to_owned(),
        );
        return;
    }
    let rules: Vec<Rule<'_>> = policies
        .iter()
        .flat_map(|p| p.spec.ingress.iter().map(|r| (p.metadata.name.as_str(), r)))
        .collect();
    if let Some(admin) = pod.settings.server.admin_port {
        check_admin_port(pod, admin, &rules, problems);
    }
    check_http_port(pod, callers, pods, &rules, problems);
}

/// The admin port: admitted from the namespace `monitoring`, and from nowhere else.
fn check_admin_port(pod: &Pod<'_>, admin: u16, rules: &[Rule<'_>], problems: &mut Vec<String>) {
    let covering: Vec<&Rule<'_>> = rules
        .iter()
        .filter(|(_, r)| covers(r, pod, admin))
        .collect();
    if !covering
        .iter()
        .any(|(_, r)| r.from.iter().any(is_monitoring))
    {
        problems.push(format!(
            "no NetworkPolicy admits the admin port {admin} from the namespace monitoring: Prometheus cannot scrape /metrics"
        ));
    }
    for (policy, rule) in covering {
        if rule.from.is_empty() {
            problems.push(format!(
                "NetworkPolicy {policy} admits the admin port {admin} from anywhere; only the namespace monitoring may reach it"
            ));
        }
        for peer in rule.from.iter().filter(|p| !is_monitoring(p)) {
            problems.push(format!(
                "NetworkPolicy {policy} admits the admin port {admin} from {}; only the namespace monitoring may reach it",
                describe(peer)
            ));
        }
    }
}

/// The service port: from each caller and only from callers; the edge's from somewhere.
fn check_http_port(
    pod: &Pod<'_>,
    callers: &[&str],
    pods: &BTreeMap<&str, Pod<'_>>,
    rules: &[Rule<'_>],
    problems: &mut Vec<String>,
) {
    let port = pod.settings.server.port;
    let covering: Vec<&Rule<'_>> = rules.iter().filter(|(_, r)| covers(r, pod, port)).collect();
    if callers.is_empty() {
        if covering.is_empty() {
            problems.push(format!(
                "is the public edge (no service calls it), but no NetworkPolicy admits its port http {port}"
            ));
        }
        return;
    }
    for &caller in callers {
        let admitted = covering.iter().any(|(_, r)| {
            r.from.is_empty()
                || r.from
                    .iter()
                    .any(|peer| pods_selected(peer, pods).is_some_and(|s| s.contains(&caller)))
        });
        if !admitted {
            problems.push(format!(
                "{caller} calls it (its configuration says so), but no NetworkPolicy admits {caller} to port http {port}"
            ));
        }
    }
    let callers_list = callers.join(", ");
    for (policy, rule) in covering {
        if rule.from.is_empty() {
            problems.push(format!(
                "NetworkPolicy {policy} admits port http {port} from anywhere; only its callers ({callers_list}) call it"
            ));
        }
        for peer in &rule.from {
            match pods_selected(peer, pods) {
                Some(selected)
                    if !selected.is_empty() && selected.iter().all(|s| callers.contains(s)) => {}
                _ => problems.push(format!(
                    "NetworkPolicy {policy} admits port http {port} from {}, which is not among its callers ({callers_list})",
                    describe(peer)
                )),
            }
        }
    }
}

/// Without `policyTypes`, a policy always restricts ingress.
fn restricts_ingress(policy: &NetworkPolicy) -> bool {
    let types = &policy.spec.policy_types;
    types.is_empty() || types.iter().any(|t| t == "Ingress")
}

fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    selector.match_expressions.is_empty()
        && selector
            .match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
}

/// Whether `rule` admits TCP traffic to the container port `port` (no `ports`: every port).
fn covers(rule: &IngressRule, pod: &Pod<'_>, port: u16) -> bool {
    rule.ports.is_empty()
        || rule.ports.iter().any(|p| {
            p.protocol.as_deref().unwrap_or("TCP") == "TCP"
                && p.port.as_ref().is_none_or(|named| {
                    pod.resolve(named).is_some_and(|first| {
                        first == port || p.end_port.is_some_and(|end| (first..=end).contains(&port))
                    })
                })
        })
}

/// A peer of the namespace labelled `kubernetes.io/metadata.name: monitoring` (its pods may be
/// narrowed further by a `podSelector`).
fn is_monitoring(peer: &PolicyPeer) -> bool {
    peer.ip_block.is_none()
        && peer.namespace_selector.as_ref().is_some_and(|ns| {
            ns.match_expressions.is_empty()
                && ns.match_labels.get(MONITORING.0).map(String::as_str) == Some(MONITORING.1)
        })
}

/// The example services whose pods a peer admits, when it admits only pods of the policy's
/// own namespace (a `podSelector` without a `namespaceSelector`); `None` for any other peer.
fn pods_selected<'a>(peer: &PolicyPeer, pods: &BTreeMap<&'a str, Pod<'_>>) -> Option<Vec<&'a str>> {
    if peer.ip_block.is_some() || peer.namespace_selector.is_some() {
        return None;
    }
    let selector = peer.pod_selector.as_ref()?;
    let selected = pods
        .iter()
        .filter(|(_, pod)| selects(selector, pod.labels()))
        .map(|(&name, _)| name)
        .collect();
    Some(selected)
}

fn describe(peer: &PolicyPeer) -> String {
    if peer.ip_block.is_some() {
        return "an ipBlock".to_owned();
    }
    match (&peer.pod_selector, &peer.namespace_selector) {
        (Some(pods), None) => format!("pods {:?}", pods.match_labels),
        (None, Some(ns)) => format!("namespaces {:?}", ns.match_labels),
        (Some(pods), Some(ns)) => {
            format!(
                "pods {:?} of namespaces {:?}",
                pods.match_labels, ns.match_labels
            )
        }
        (None, None) => "anyone".to_owned(),
    }
}
