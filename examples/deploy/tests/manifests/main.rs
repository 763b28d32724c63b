//! Checks the Kubernetes manifests in `examples/deploy` against the configuration each service
//! will run with.
//!
//! For every example the test loads, through the chassis' own `ConfigLoader`, what the pod
//! reads: the chassis defaults, the example's `config/default.toml` (compiled into the binary),
//! the ConfigMap mounted as the configuration directory, and the Deployment's environment
//! variables. Then it checks the manifest against those settings: container ports, probe paths
//! and ports, `terminationGracePeriodSeconds` against the shutdown timing, discovery through
//! headless Services, resources and security settings, the admin token read from a Secret
//! (whose value the test cannot read: it loads a stand-in), NetworkPolicies admitting each
//! service port from its callers and the admin port from the monitoring namespace only, and
//! the public edge's trust mode. A missing manifest or configuration file fails the test; so
//! does any problem, and all problems are listed at once.
//!
//! Why the real loader: a second, hand-written merge of TOML and environment variables would
//! drift from the chassis' rules (`__` nesting, lists, durations, unknown keys). This way an
//! environment variable with a typo (`CATALOG__SERVER__PROT`) fails here as it would at start-up.

mod checks;
mod exposure;
mod kube;
mod pod;
mod secrets;

use std::fmt::Write as _;

use checks::check;
use kube::{
    ConfigMap, Container, EnvVar, IngressRule, LabelSelector, Lifecycle, Manifests, NetworkPolicy,
    PolicyPeer, PolicyPort, PortRef, PreStop, Resource, SleepAction, load_manifests,
};

/// The example services and the services each one calls.
const SERVICES: [(&str, &[&str]); 3] = [
    ("catalog", &[]),
    ("orders", &["catalog"]),
    ("gateway", &["catalog", "orders"]),
];

/// The chassis-owned top-level sections an environment variable may name.
const SECTIONS: [&str; 6] = [
    "server",
    "shutdown",
    "telemetry",
    "discovery",
    "faults",
    "clients",
];

/// The problems as an indented list, for a failure message.
fn report(problems: &[String]) -> String {
    problems.iter().fold(String::new(), |mut out, p| {
        let _ = writeln!(out, "  - {p}");
        out
    })
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn manifests_agree_with_the_services_configuration() {
    let problems = check(&load_manifests());
    assert!(
        problems.is_empty(),
        "examples/deploy disagrees with the services' configuration:\n{}",
        report(&problems)
    );
}

/// Runs the checks on the manifests after `change` and returns the problems.
fn problems_after(change: impl FnOnce(&mut Manifests)) -> Vec<String> {
    let mut manifests = load_manifests();
    change(&mut manifests);
    check(&manifests)
}

fn assert_reports(problems: &[String], expected: &str) {
    assert!(
        problems.iter().any(|p| p.contains(expected)),
        "expected a problem containing {expected:?}, got:\n{}",
        report(problems)
    );
}

fn container<'a>(manifests: &'a mut Manifests, name: &str) -> &'a mut Container {
    manifests
        .deployment_mut(name)
        .spec
        .template
        .spec
        .containers
        .iter_mut()
        .find(|c| c.name == name)
        .expect("container")
}

fn set_env(manifests: &mut Manifests, service: &str, name: &str, value: &str) {
    let env = &mut container(manifests, service).env;
    env.retain(|v| v.name != name);
    env.push(EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        value_from: None,
    });
}

#[test]
fn a_grace_period_shorter_than_the_shutdown_sequence_is_reported() {
    let problems = problems_after(|m| {
        m.deployment_mut("orders")
            .spec
            .template
            .spec
            .termination_grace_period_seconds = Some(30);
    });
    assert_reports(
        &problems,
        "orders: terminationGracePeriodSeconds 30s is not above",
    );
}

#[test]
fn an_env_override_of_the_shutdown_timing_counts() {
    let problems =
        problems_after(|m| set_env(m, "catalog", "CATALOG__SHUTDOWN__GRACE_PERIOD", "1m"));
    assert_reports(&problems, "catalog: terminationGracePeriodSeconds");
    assert_reports(&problems, "grace_period 60s");
}

#[test]
fn a_prestop_sleep_counts_against_the_grace_period() {
    let problems = problems_after(|m| {
        container(m, "gateway").lifecycle = Some(Lifecycle {
            pre_stop: Some(PreStop {
                exec: None,
                sleep: Some(SleepAction { seconds: 15 }),
            }),
        });
    });
    assert_reports(
        &problems,
        "gateway: terminationGracePeriodSeconds 45s is not above preStop 15s",
    );
}

#[test]
fn a_container_port_other_than_server_port_is_reported() {
    let problems = problems_after(|m| set_env(m, "orders", "ORDERS__SERVER__PORT", "9000"));
    assert_reports(
        &problems,
        "orders: container port http is 8082, but server.port is 9000",
    );
    assert_reports(
        &problems,
        "orders, whose Service port http reaches Some(8082), not its server.port 9000",
    );
}

#[test]
fn probes_on_the_wrong_path_or_port_are_reported() {
    let problems = problems_after(|m| {
        let c = container(m, "catalog");
        let get = c
            .liveness_probe
            .as_mut()
            .and_then(|p| p.http_get.as_mut())
            .expect("liveness");
        get.path = "/health/ready".to_owned();
        let get = c
            .readiness_probe
            .as_mut()
            .and_then(|p| p.http_get.as_mut())
            .expect("readiness");
        get.port = PortRef::Name("http".to_owned());
    });
    assert_reports(
        &problems,
        "catalog: livenessProbe path is /health/ready, expected /health/live",
    );
    assert_reports(
        &problems,
        "catalog: readinessProbe port Name(\"http\") is Some(8081), but health is served on 9090",
    );
}

#[test]
fn unknown_sections_and_keys_in_env_names_are_reported() {
    let problems = problems_after(|m| {
        set_env(m, "gateway", "GATEWAY__SERVR__PORT", "1");
        set_env(m, "gateway", "GATEWAY_SERVER_PORT", "1");
        set_env(m, "catalog", "CATALOG__SERVER__PROT", "1");
    });
    assert_reports(
        &problems,
        "gateway: GATEWAY__SERVR__PORT: \"servr\" is neither a chassis section",
    );
    assert_reports(
        &problems,
        "gateway: GATEWAY_SERVER_PORT: the chassis reads GATEWAY__SECTION__KEY",
    );
    assert_reports(&problems, "catalog: the pod's configuration does not load");
    assert_reports(&problems, "server.prot");
}

#[test]
fn a_caller_without_dns_discovery_or_headless_service_is_reported() {
    let problems = problems_after(|m| {
        set_env(m, "gateway", "GATEWAY__DISCOVERY__BACKEND", "static");
        set_env(
            m,
            "orders",
            "ORDERS__DISCOVERY__DNS__DOMAIN",
            "default.svc.cluster.local",
        );
        for r in &mut m.resources {
            if let Resource::Service(s) = r
                && s.metadata.name == "catalog"
            {
                s.spec.cluster_ip = None;
            }
        }
    });
    assert_reports(
        &problems,
        "gateway: discovery.backend is static, expected dns",
    );
    assert_reports(
        &problems,
        "orders: discovery.dns.domain is Some(\"default.svc.cluster.local\")",
    );
    assert_reports(
        &problems,
        "orders: calls catalog, whose Service is not headless",
    );
}

#[test]
fn a_missing_deployment_or_hardening_is_reported() {
    let problems = problems_after(|m| {
        container(m, "orders")
            .security_context
            .read_only_root_filesystem = None;
        container(m, "orders").resources = None;
        m.resources
            .retain(|r| !matches!(r, Resource::Deployment(d) if d.metadata.name == "catalog"));
    });
    assert_reports(&problems, "catalog: no Deployment");
    assert_reports(&problems, "orders: readOnlyRootFilesystem is not true");
    assert_reports(&problems, "orders: no resources");
    assert_reports(&problems, "Service catalog: selects no Deployment's pods");
}

// ---------------------------------------------------------------------------------------------
// Secrets and exposure.

fn remove_env(manifests: &mut Manifests, service: &str, name: &str) {
    container(manifests, service).env.retain(|v| v.name != name);
}

fn config_map_mut<'a>(manifests: &'a mut Manifests, name: &str) -> &'a mut ConfigMap {
    manifests
        .resources
        .iter_mut()
        .find_map(|r| match r {
            Resource::ConfigMap(c) if c.metadata.name == name => Some(c),
            _ => None,
        })
        .expect("config map in the manifests")
}

fn policy_mut<'a>(manifests: &'a mut Manifests, name: &str) -> &'a mut NetworkPolicy {
    manifests
        .resources
        .iter_mut()
        .find_map(|r| match r {
            Resource::NetworkPolicy(p) if p.metadata.name == name => Some(p),
            _ => None,
        })
        .expect("network policy in the manifests")
}

/// A peer selecting the pods of one example service in the same namespace.
fn pods_of(service: &str) -> PolicyPeer {
    PolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: [("app.kubernetes.io/name".to_owned(), service.to_owned())].into(),
            match_expressions: Vec::new(),
        }),
        ..PolicyPeer::default()
    }
}

fn port(name: &str) -> PolicyPort {
    PolicyPort {
        port: Some(PortRef::Name(name.to_owned())),
        end_port: None,
        protocol: None,
    }
}

/// The rule of a service's policy that admits a port, by the port's name.
fn rule_for<'a>(policy: &'a mut NetworkPolicy, name: &str) -> &'a mut IngressRule {
    policy
        .spec
        .ingress
        .iter_mut()
        .find(|r| {
            r.ports
                .iter()
                .any(|p| p.port == Some(PortRef::Name(name.to_owned())))
        })
        .expect("a rule for the port")
}

#[test]
fn an_admin_token_not_read_from_a_secret_is_reported() {
    let problems = problems_after(|m| {
        set_env(
            m,
            "gateway",
            "GATEWAY__SERVER__ADMIN_TOKEN",
            "0123456789abcdef-literal",
        );
        remove_env(m, "orders", "ORDERS__SERVER__ADMIN_TOKEN");
        let catalog = container(m, "catalog");
        let token = catalog
            .env
            .iter_mut()
            .find(|v| v.name == "CATALOG__SERVER__ADMIN_TOKEN")
            .expect("token");
        let secret = token
            .value_from
            .as_mut()
            .and_then(|s| s.secret_key_ref.as_mut())
            .expect("secretKeyRef");
        secret.optional = Some(true);
    });
    assert_reports(
        &problems,
        "gateway: GATEWAY__SERVER__ADMIN_TOKEN: a literal value in the manifest",
    );
    assert_reports(
        &problems,
        "orders: no ORDERS__SERVER__ADMIN_TOKEN from a Secret, so the admin port serves no /admin",
    );
    assert_reports(
        &problems,
        "catalog: CATALOG__SERVER__ADMIN_TOKEN: the key token of the Secret catalog-admin is optional",
    );
}

#[test]
fn a_token_in_the_config_map_or_a_committed_secret_is_reported() {
    let problems = problems_after(|m| {
        remove_env(m, "orders", "ORDERS__SERVER__ADMIN_TOKEN");
        let files = &mut config_map_mut(m, "orders-config").data;
        let toml = files.get_mut("default.toml").expect("default.toml");
        toml.push_str("[server]\nadmin_token = \"0123456789abcdef-in-a-file\"\n");
        let secret = "kind: Secret\nmetadata:\n  name: shop-admin\nstringData:\n  token: t\n";
        m.resources
            .push(serde_norway::from_str(secret).expect("a Secret parses"));
    });
    assert_reports(
        &problems,
        "orders: server.admin_token is set in a file (the ConfigMap or the example's defaults)",
    );
    assert_reports(&problems, "Secret shop-admin: committed with values");
}

#[test]
fn a_value_from_a_secret_loads_as_set() {
    // The checker cannot read the Secret; it loads a stand-in, so the chassis' own rules on
    // the token still apply: here, a token without an admin port.
    let problems = problems_after(|m| remove_env(m, "catalog", "CATALOG__SERVER__ADMIN_PORT"));
    assert_reports(&problems, "catalog: the pod's configuration does not load");
    assert_reports(
        &problems,
        "server.admin_token (from environment variable CATALOG__SERVER__ADMIN_TOKEN): set, but /admin is served only on server.admin_port",
    );
}

#[test]
fn pods_no_network_policy_selects_are_reported() {
    let problems = problems_after(|m| {
        m.resources
            .retain(|r| !matches!(r, Resource::NetworkPolicy(_)));
    });
    for service in ["catalog", "orders", "gateway"] {
        assert_reports(
            &problems,
            &format!("{service}: no NetworkPolicy selects its pods"),
        );
    }
}

#[test]
fn an_admin_port_open_beyond_monitoring_is_reported() {
    let problems = problems_after(|m| {
        policy_mut(m, "catalog").spec.ingress.push(IngressRule {
            from: Vec::new(),
            ports: vec![port("admin")],
        });
        let orders = rule_for(policy_mut(m, "orders"), "admin");
        let namespace = orders.from[0]
            .namespace_selector
            .as_mut()
            .expect("namespaceSelector");
        namespace.match_labels.insert(
            "kubernetes.io/metadata.name".to_owned(),
            "default".to_owned(),
        );
    });
    assert_reports(
        &problems,
        "catalog: NetworkPolicy catalog admits the admin port 9090 from anywhere",
    );
    assert_reports(
        &problems,
        "orders: no NetworkPolicy admits the admin port 9090 from the namespace monitoring",
    );
    assert_reports(
        &problems,
        "orders: NetworkPolicy orders admits the admin port 9090 from namespaces {\"kubernetes.io/metadata.name\": \"default\"}",
    );
}

#[test]
fn a_service_port_closed_to_a_caller_or_open_to_others_is_reported() {
    let problems = problems_after(|m| {
        // gateway calls catalog (its configuration says so): take it out of catalog's policy.
        let catalog = rule_for(policy_mut(m, "catalog"), "http");
        catalog
            .from
            .retain(|p| describe_labels(p) != Some("gateway"));
        // catalog does not call orders: let it in.
        rule_for(policy_mut(m, "orders"), "http")
            .from
            .push(pods_of("catalog"));
        // The public edge must be reachable at all.
        policy_mut(m, "gateway").spec.ingress.retain(|r| {
            r.ports
                .iter()
                .all(|p| p.port != Some(PortRef::Name("http".to_owned())))
        });
    });
    assert_reports(
        &problems,
        "catalog: gateway calls it (its configuration says so), but no NetworkPolicy admits gateway to port http 8081",
    );
    assert_reports(
        &problems,
        "orders: NetworkPolicy orders admits port http 8082 from pods {\"app.kubernetes.io/name\": \"catalog\"}, which is not among its callers (gateway)",
    );
    assert_reports(
        &problems,
        "gateway: is the public edge (no service calls it), but no NetworkPolicy admits its port http 8080",
    );
}

#[test]
fn a_service_port_open_to_anyone_but_the_edge_is_reported() {
    let problems = problems_after(|m| {
        rule_for(policy_mut(m, "catalog"), "http").from.clear();
    });
    assert_reports(
        &problems,
        "catalog: NetworkPolicy catalog admits port http 8081 from anywhere; only its callers (gateway, orders) call it",
    );
    assert!(
        !problems.iter().any(|p| p.starts_with("gateway:")),
        "the edge is open to anyone on purpose:\n{}",
        report(&problems)
    );
}

#[test]
fn an_edge_that_trusts_its_callers_is_reported() {
    let problems =
        problems_after(|m| set_env(m, "gateway", "GATEWAY__SERVER__TRUST__MODE", "internal"));
    assert_reports(
        &problems,
        "gateway: is the public edge (no service calls it), but server.trust.mode is Internal",
    );
    // The ConfigMap cannot undo it either.
    let problems = problems_after(|m| {
        let files = &mut config_map_mut(m, "gateway-config").data;
        let toml = files.get_mut("default.toml").expect("default.toml");
        toml.push_str("[server.trust]\nmode = \"internal\"\n");
    });
    assert_reports(&problems, "server.trust.mode is Internal");
}

/// The `app.kubernetes.io/name` a peer selects, if that is all it selects.
fn describe_labels(peer: &PolicyPeer) -> Option<&str> {
    let labels = &peer.pod_selector.as_ref()?.match_labels;
    (labels.len() == 1)
        .then(|| labels.get("app.kubernetes.io/name").map(String::as_str))
        .flatten()
}
