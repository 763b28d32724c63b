//! Checks the Kubernetes manifests in `examples/deploy` against the configuration each service
//! will run with.
//!
//! For every example the test loads, through the chassis' own `ConfigLoader`, what the pod
//! reads: the chassis defaults, the example's `config/default.toml` (compiled into the binary),
//! the ConfigMap mounted as the configuration directory, and the Deployment's environment
//! variables. Then it checks the manifest against those settings: container ports, probe paths
//! and ports, `terminationGracePeriodSeconds` against the shutdown timing, discovery through
//! headless Services, resources and security settings, the admin token read from a Secret
//! (whose value the test cannot read: it loads a stand-in). A missing manifest or configuration file fails the test; so
//! does any problem, and all problems are listed at once.
//!
//! Why the real loader: a second, hand-written merge of TOML and environment variables would
//! drift from the chassis' rules (`__` nesting, lists, durations, unknown keys). This way an
//! environment variable with a typo (`CATALOG__SERVER__PROT`) fails here as it would at start-up.

mod checks;
mod kube;
mod pod;
mod secrets;

use std::fmt::Write as _;

use checks::check;
use kube::{
    ConfigMap, Container, EnvVar, Lifecycle, Manifests, PortRef, PreStop, Resource, SleepAction,
    load_manifests,
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
