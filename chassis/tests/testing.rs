//! `chassis::testing` over real loopback: a cluster's wiring, each fault of a link, and
//! stopping, restarting and scaling instances. Its own binary: captured logs and metrics
//! are per service name, process-wide.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::{Router, routing::get};
use chassis::client::{ClientBuildError, HttpClient};
use chassis::health::Status;
use chassis::service::Context;
use chassis::testing::{ClusterError, Fault, TestCluster, get_text};

/// How long a state may take to be reached.
const BOUND: Duration = Duration::from_secs(20);
/// The size of leaf's `/big` answer.
const BIG: usize = 64 * 1024;

/// Answers its instance id, and a large body.
#[chassis::service(name = "leaf", defaults = false)]
async fn leaf(ctx: Context<()>) -> Result<Router, std::convert::Infallible> {
    let id = ctx.identity().instance_id.clone();
    Ok(Router::new()
        .route("/", get(move || async move { id }))
        .route("/big", get(|| async { "x".repeat(BIG) })))
}

/// Calls leaf and says what it got: `200 <body>` or `error <kind>: <message>`; on
/// `/discovered`, the addresses discovery hands it for leaf.
#[chassis::service(name = "edge", defaults = false)]
async fn edge(ctx: Context<()>) -> Result<Router, ClientBuildError> {
    let leaf = ctx.client("leaf")?;
    let registry = ctx.registry().clone();
    Ok(Router::new()
        .route("/", get(|State(leaf): State<HttpClient>| relay(leaf, "/")))
        .route(
            "/big",
            get(|State(leaf): State<HttpClient>| relay(leaf, "/big")),
        )
        .route(
            "/discovered",
            get(move || async move { discovered(&registry, "leaf") }),
        )
        .with_state(leaf))
}

/// The addresses `registry` hands out for `service`, sorted, comma-separated.
fn discovered(registry: &chassis::discovery::Registry, service: &str) -> String {
    let Ok(endpoints) = registry.discover(service) else {
        return "unknown".to_owned();
    };
    let addresses: BTreeSet<String> = endpoints
        .current()
        .iter()
        .map(|endpoint| endpoint.address.to_string())
        .collect();
    addresses.into_iter().collect::<Vec<_>>().join(",")
}

async fn relay(leaf: HttpClient, path: &'static str) -> String {
    match leaf.get(path).send().await {
        Ok(reply) => {
            let response = reply.into_response();
            let status = response.status().as_u16();
            let body = http_body_util::BodyExt::collect(response.into_body()).await;
            let body = body
                .map(http_body_util::Collected::to_bytes)
                .unwrap_or_default();
            format!("{status} {}", String::from_utf8_lossy(&body))
        }
        Err(error) => format!("error {}: {error}", error.kind().as_str()),
    }
}

/// A cluster whose edge makes one attempt per call, within 500 ms, and never trips.
async fn cluster() -> TestCluster {
    let mut builder = TestCluster::builder().service::<Leaf>().service::<Edge>();
    for (key, value) in [
        ("clients.leaf.timeout", "500ms"),
        ("clients.leaf.retry.max_attempts", "1"),
        ("clients.leaf.breaker.enabled", "false"),
        ("clients.leaf.outlier.enabled", "false"),
    ] {
        builder = builder.set("edge", key, value);
    }
    builder.start().await.unwrap()
}

async fn edge_says(cluster: &TestCluster, path: &str) -> String {
    get_text(cluster.addr("edge").unwrap(), path).await.unwrap()
}

/// Calls until `done` holds for an answer, or fails the test after [`BOUND`].
async fn until(
    cluster: &TestCluster,
    path: &str,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + BOUND;
    loop {
        let said = edge_says(cluster, path).await;
        if done(&said) {
            return said;
        }
        assert!(
            Instant::now() < deadline,
            "never {what}; last answer: {said}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_cluster_wires_its_services_and_shows_their_health_metrics_and_logs() {
    let cluster = cluster().await;
    let leaf_id = cluster
        .instance("leaf", 0)
        .unwrap()
        .identity()
        .instance_id
        .clone();
    assert_eq!(edge_says(&cluster, "/").await, format!("200 {leaf_id}"));
    assert_ne!(cluster.addr("edge").unwrap().port(), 0);
    // Edge is handed the link's proxy, not leaf's own address.
    let leaf = cluster.addr("leaf").unwrap().to_string();
    let handed = edge_says(&cluster, "/discovered").await;
    assert!(
        handed.starts_with("127.0.0.1:") && handed != leaf,
        "{handed}"
    );

    assert_eq!(
        cluster.health("edge", 0).await.unwrap().status,
        Status::Pass
    );
    let metrics = cluster.metrics("edge").await.unwrap();
    assert!(
        metrics.contains("http_client_request_duration_seconds")
            && metrics.contains("service_name=\"edge\""),
        "{metrics}"
    );
    assert!(!metrics.contains("service_name=\"leaf\""), "{metrics}");

    let logs = cluster.logs("leaf");
    assert!(
        logs.iter().any(|line| line.contains("service started")),
        "{logs:?}"
    );
    assert!(
        cluster
            .logs("edge")
            .iter()
            .all(|line| !line.contains(&leaf_id)),
        "leaf's lines were filed under edge"
    );

    assert!(matches!(
        cluster.link("edge", "nope"),
        Err(ClusterError::UnknownService(name)) if name == "nope"
    ));
    assert!(matches!(
        cluster.instance("leaf", 1),
        Err(ClusterError::NoInstance { index: 1, .. })
    ));
    cluster.shutdown().await;
}

#[tokio::test]
async fn each_fault_reaches_the_caller_as_in_production_and_healing_ends_it() {
    let cluster = cluster().await;
    let link = cluster.link("edge", "leaf").unwrap();
    let healthy = |said: &str| said.starts_with("200 ");
    until(&cluster, "/", "healthy", healthy).await;

    // The answer starts with the first text; the second is in it only for a reset.
    let cases = [
        (Fault::Partition, "error timeout", false),
        (
            Fault::Latency(Duration::from_secs(5)),
            "error timeout",
            false,
        ),
        (Fault::Reset, "error transport", true),
        (Fault::Drop, "error transport", false),
        (
            Fault::ErrorResponses(1.0),
            "503 error injected by the test link",
            false,
        ),
    ];
    for (fault, expected, reset) in cases {
        link.set(fault);
        assert_eq!(link.fault(), Some(fault));
        // Open connections see it at their next chunk, new ones at once.
        let said = edge_says(&cluster, "/").await;
        assert!(said.starts_with(expected), "{fault:?}: {said}");
        assert_eq!(
            said.to_lowercase().contains("connection reset"),
            reset,
            "{fault:?}: {said}"
        );
        link.heal();
        assert_eq!(link.fault(), None);
        until(&cluster, "/", &format!("healed after {fault:?}"), healthy).await;
    }

    // Refused: the pooled connection is reset at its next request, new ones are refused.
    link.set(Fault::Refuse);
    let said = until(&cluster, "/", "refused", |said| said.contains("refused")).await;
    assert!(said.starts_with("error transport"), "{said}");
    link.heal();
    until(&cluster, "/", "healed after refusing", healthy).await;

    // A slow link: at 100 bytes a second the request alone outlasts the edge's 500 ms
    // timeout; at a fast rate a 64 KiB answer arrives whole.
    link.set(Fault::SlowLink {
        bytes_per_second: 100,
    });
    assert!(edge_says(&cluster, "/").await.starts_with("error timeout"));
    link.set(Fault::SlowLink {
        bytes_per_second: 64 * 1024 * 1024,
    });
    let said = edge_says(&cluster, "/big").await;
    assert!(
        said.len() == "200 ".len() + BIG && said.starts_with("200 x"),
        "{}",
        &said[..40.min(said.len())]
    );
    link.heal();
    cluster.shutdown().await;
}

#[tokio::test]
async fn error_responses_answer_about_their_share_of_requests() {
    let cluster = cluster().await;
    let link = cluster.link("edge", "leaf").unwrap();
    link.set(Fault::ErrorResponses(0.5));
    let mut failed = 0;
    for _ in 0..200 {
        if edge_says(&cluster, "/").await.starts_with("503") {
            failed += 1;
        }
    }
    // Binomial(200, 0.5): outside 60..140 once in about 10^8 runs.
    assert!((60..140).contains(&failed), "{failed} of 200");
    cluster.shutdown().await;
}

#[tokio::test]
async fn stopping_restarting_and_scaling_change_what_callers_discover() {
    let mut cluster = cluster().await;
    let first = cluster
        .instance("leaf", 0)
        .unwrap()
        .identity()
        .instance_id
        .clone();

    cluster.scale("leaf", 2).await.unwrap();
    assert_eq!(cluster.instances("leaf").unwrap(), 2);
    let second = cluster
        .instance("leaf", 1)
        .unwrap()
        .identity()
        .instance_id
        .clone();
    let expected: BTreeSet<String> = [first.clone(), second.clone()].into();
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + BOUND;
    while seen != expected {
        let said = edge_says(&cluster, "/").await;
        seen.insert(said.strip_prefix("200 ").unwrap().to_owned());
        assert!(Instant::now() < deadline, "only {seen:?} answered");
    }

    // The stopped instance is never called again: it left discovery first.
    cluster.stop("leaf", 0).await.unwrap();
    for _ in 0..20 {
        assert_eq!(edge_says(&cluster, "/").await, format!("200 {second}"));
    }

    cluster.restart("leaf", 0).await.unwrap();
    let third = cluster
        .instance("leaf", 0)
        .unwrap()
        .identity()
        .instance_id
        .clone();
    assert_ne!(third, second);
    for _ in 0..20 {
        assert_eq!(edge_says(&cluster, "/").await, format!("200 {third}"));
    }

    cluster.scale("leaf", 0).await.unwrap();
    let said = edge_says(&cluster, "/").await;
    assert!(said.starts_with("error no_endpoint"), "{said}");
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_declaration_mistake_is_an_error_before_anything_starts() {
    let unknown = TestCluster::builder()
        .service::<Leaf>()
        .set("laef", "server.port", 1)
        .start()
        .await;
    assert!(matches!(unknown, Err(ClusterError::UnknownService(name)) if name == "laef"));
    let twice = TestCluster::builder()
        .service::<Leaf>()
        .service::<Leaf>()
        .start()
        .await;
    assert!(matches!(twice, Err(ClusterError::DuplicateService(name)) if name == "leaf"));
    let bad = TestCluster::builder()
        .service::<Leaf>()
        .set("leaf", "server.request_timeout", "soon")
        .start()
        .await;
    assert!(matches!(bad, Err(ClusterError::Launch { .. })), "{bad:?}");
}

#[tokio::test]
async fn a_directly_wired_cluster_hands_callers_each_instances_own_address_and_no_link() {
    let mut cluster = TestCluster::builder()
        .service::<Leaf>()
        .service::<Edge>()
        .direct()
        .start()
        .await
        .unwrap();
    let own = |cluster: &TestCluster, index| cluster.instance("leaf", index).unwrap().addr();
    let first = own(&cluster, 0);
    assert_eq!(edge_says(&cluster, "/discovered").await, first.to_string());
    let id = cluster
        .instance("leaf", 0)
        .unwrap()
        .identity()
        .instance_id
        .clone();
    assert_eq!(edge_says(&cluster, "/").await, format!("200 {id}"));

    let refused = cluster.link("edge", "leaf");
    let Err(error @ ClusterError::DirectlyWired { .. }) = refused else {
        panic!("a link in a directly wired cluster: {refused:?}");
    };
    assert_eq!(
        error.to_string(),
        "the cluster is wired directly: edge reaches leaf with no proxy to put a fault on"
    );
    assert!(matches!(
        cluster.link("edge", "nope"),
        Err(ClusterError::UnknownService(name)) if name == "nope"
    ));

    // Scaling and stopping change the addresses handed out, still the instances' own.
    cluster.scale("leaf", 2).await.unwrap();
    let both: BTreeSet<String> = [first, own(&cluster, 1)]
        .iter()
        .map(ToString::to_string)
        .collect();
    let both = both.into_iter().collect::<Vec<_>>().join(",");
    until(&cluster, "/discovered", "both leaves handed out", |said| {
        said == both
    })
    .await;
    cluster.stop("leaf", 0).await.unwrap();
    let second = own(&cluster, 0).to_string();
    assert_eq!(edge_says(&cluster, "/discovered").await, second);
    cluster.shutdown().await;
}

/// The value and the source of a dotted key `instance` runs with.
fn effective(cluster: &TestCluster, service: &str, key: &str) -> (String, String) {
    let handle = cluster.instance(service, 0).unwrap();
    let value = handle.reload_handle().effective().keys[key].clone();
    let text = value
        .value
        .as_str()
        .map_or_else(|| value.value.to_string(), str::to_owned);
    (text, value.source)
}

#[tokio::test]
async fn a_cluster_from_the_process_reads_files_and_environment_and_binds_where_they_say() {
    // An empty cluster installs the log capture first: services started from the process
    // install none, and would otherwise take the process's subscriber from the other tests.
    TestCluster::builder()
        .start()
        .await
        .unwrap()
        .shutdown()
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("default.toml"),
        "[server]\nhost = \"127.0.0.1\"\nport = 0\n\n[shutdown]\ndrain_delay = \"150ms\"\n",
    )
    .unwrap();
    let cluster = TestCluster::builder()
        .service::<Leaf>()
        .service::<Edge>()
        .set_default("leaf", "shutdown.drain_delay", "7s")
        .set_default("leaf", "shutdown.grace_period", "3s")
        .from_process()
        .config_dir(dir.path())
        .env([("LEAF__SERVER__HOST", "127.0.0.2")])
        .start()
        .await
        .unwrap();
    // The environment beats the file, the file beats a default set in code, and the
    // cluster forces neither host, port nor drain.
    let leaf = cluster.addr("leaf").unwrap();
    assert_eq!(leaf.ip().to_string(), "127.0.0.2");
    assert_eq!(
        effective(&cluster, "leaf", "server.host"),
        (
            "127.0.0.2".to_owned(),
            "environment variable LEAF__SERVER__HOST".to_owned()
        )
    );
    // The source names the file relative to the working directory.
    let tmp = dir.path().file_name().unwrap().to_str().unwrap();
    let from_file = format!("{tmp}/default.toml");
    let (drain, source) = effective(&cluster, "leaf", "shutdown.drain_delay");
    assert!(
        drain == "150ms" && source.ends_with(&from_file),
        "{drain} {source}"
    );
    assert_eq!(effective(&cluster, "leaf", "shutdown.grace_period").0, "3s");
    let (port, source) = effective(&cluster, "edge", "server.port");
    assert!(
        port == "0" && source.ends_with(&from_file),
        "{port} {source}"
    );
    assert_eq!(cluster.addr("edge").unwrap().ip().to_string(), "127.0.0.1");
    // Still wired through the cluster: edge reaches leaf at 127.0.0.2 through the link.
    let id = cluster
        .instance("leaf", 0)
        .unwrap()
        .identity()
        .instance_id
        .clone();
    assert_eq!(edge_says(&cluster, "/").await, format!("200 {id}"));
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_test_clusters_services_read_the_environment_given_but_keep_a_free_loopback_port() {
    let cluster = TestCluster::builder()
        .service::<Leaf>()
        .env([
            ("LEAF__SERVER__HOST", "127.0.0.2"),
            ("LEAF__SHUTDOWN__GRACE_PERIOD", "4s"),
        ])
        .start()
        .await
        .unwrap();
    assert_eq!(cluster.addr("leaf").unwrap().ip().to_string(), "127.0.0.1");
    assert_eq!(
        effective(&cluster, "leaf", "shutdown.grace_period"),
        (
            "4s".to_owned(),
            "environment variable LEAF__SHUTDOWN__GRACE_PERIOD".to_owned()
        )
    );
    cluster.shutdown().await;
}

/// docs/testing.md shows the shop's guide test as it is, and it stays under 40 lines.
#[test]
fn the_guide_shows_its_complete_test_as_it_is() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let read = |path: &str| std::fs::read_to_string(format!("{root}/{path}")).unwrap();
    let guide = read("docs/testing.md");
    let test = read("examples/shop/tests/guide.rs");
    let from = guide.find("## A complete test").expect("the heading");
    let open = guide[from..].find("```rust,ignore\n").expect("the block") + from + 15;
    let close = guide[open..].find("```").unwrap() + open;
    assert_eq!(&guide[open..close], test);
    assert!(test.lines().count() < 40, "{} lines", test.lines().count());
}

/// Never ready: its readiness check always fails.
#[chassis::service(name = "never", defaults = false)]
async fn never(ctx: Context<()>) -> Result<Router, std::convert::Infallible> {
    ctx.health().readiness("always failing", || async {
        chassis::health::CheckResult::fail("never ready")
    });
    Ok(Router::new())
}

#[tokio::test]
async fn an_instance_that_never_becomes_ready_fails_the_start_within_its_bound() {
    let bound = Duration::from_millis(300);
    let started = TestCluster::builder()
        .service::<Never>()
        .ready_within(bound)
        .start()
        .await;
    match started {
        Err(ClusterError::NotReady {
            service,
            bound: waited,
        }) => {
            assert_eq!((service.as_str(), waited), ("never", bound));
        }
        other => panic!("expected NotReady, got {other:?}"),
    }
}
