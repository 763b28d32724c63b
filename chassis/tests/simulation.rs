//! `chassis::testing::Simulation`: services on a simulated network and clock.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::extract::State;
use axum::{Router, routing::get};
use chassis::client::{ClientBuildError, HttpClient};
use chassis::service::Context;
use chassis::testing::{ClusterError, Simulation};

/// One simulation at a time: breaker gauges are per service name, process-wide, and these
/// tests read them.
fn alone() -> MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Answers its instance id.
#[chassis::service(name = "leaf", defaults = false)]
async fn leaf(ctx: Context<()>) -> Result<Router, std::convert::Infallible> {
    let id = ctx.identity().instance_id.clone();
    Ok(Router::new().route("/", get(move || async move { id })))
}

/// Relays leaf's answer, or says `fallback`.
#[chassis::service(name = "edge", defaults = false)]
async fn edge(ctx: Context<()>) -> Result<Router, ClientBuildError> {
    let leaf = ctx.client("leaf")?;
    Ok(Router::new()
        .route(
            "/",
            get(|State(leaf): State<HttpClient>| async move {
                match leaf.get("/").send().await {
                    Ok(reply) => reply.text().await.unwrap_or_default(),
                    Err(_) => "fallback".to_owned(),
                }
            }),
        )
        .with_state(leaf))
}

#[test]
fn a_partition_makes_the_caller_fall_back_and_repair_heals_it() {
    let _alone = alone();
    let (before, during, after) = Simulation::builder(1)
        .service::<Leaf>()
        .service::<Edge>()
        .run(|sim| async move {
            let before = sim.get("edge", "/").await?.body;
            sim.partition("edge", "leaf")?;
            let during = sim.get("edge", "/").await?.body;
            sim.repair("edge", "leaf")?;
            let after = sim.get("edge", "/").await?.body;
            Ok::<_, ClusterError>((before, during, after))
        })
        .unwrap();
    assert!(before.starts_with("leaf-"), "{before}");
    assert_eq!(during, "fallback");
    assert_eq!(after, before);
}

/// What the test saw at one step: the simulated time, edge's answer and its breaker.
type Step = (u128, String, &'static str);

/// The state `chassis_breaker_state{client="leaf"}` says edge's breaker is in.
fn breaker(metrics: &str) -> &'static str {
    for state in ["closed", "open", "half_open", "forced_open", "disabled"] {
        let series = format!("chassis_breaker_state{{client=\"leaf\",state=\"{state}\"");
        let on = metrics.lines().any(|line| {
            line.strip_prefix(&series)
                .and_then(|rest| rest.rsplit_once("} "))
                .is_some_and(|(_, value)| value.trim() == "1")
        });
        if on {
            return state;
        }
    }
    "unknown"
}

/// Calls edge once a second: 3 calls, a partition for 20, then healed for 50 (edge's
/// breaker waits 30 s in open before trying leaf again).
fn breaker_walk(seed: u64) -> Vec<Step> {
    Simulation::builder(seed)
        .service::<Leaf>()
        .service::<Edge>()
        .set("edge", "clients.leaf.breaker.wait_in_open", "30s")
        .run(|sim| async move {
            let mut steps = Vec::new();
            for second in 0..73 {
                if second == 3 {
                    sim.partition("edge", "leaf")?;
                }
                if second == 23 {
                    sim.repair("edge", "leaf")?;
                }
                let body = sim.get("edge", "/").await?.body;
                let state = breaker(&sim.metrics("edge").await?);
                steps.push((sim.elapsed().as_millis(), body, state));
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Ok(steps)
        })
        .unwrap()
}

#[test]
fn a_breaker_opens_waits_and_closes_in_simulated_time() {
    let _alone = alone();
    let steps = breaker_walk(3);
    let states: Vec<&str> = steps.iter().map(|(_, _, state)| *state).collect();
    let first_open = states
        .iter()
        .position(|s| *s == "open")
        .expect("the breaker opened");
    assert!(first_open >= 3, "{steps:?}");
    let closed_again = states[first_open..]
        .iter()
        .position(|s| *s == "closed")
        .map(|at| at + first_open)
        .expect("the breaker closed again");
    // Healed at step 23, the breaker stays open for its 30 s wait before a trial.
    assert!(closed_again > 23, "{steps:?}");
    let (opened_at, closed_at) = (steps[first_open].0, steps[closed_again].0);
    assert!(closed_at - opened_at >= 30_000, "{steps:?}");
    assert!(
        steps[..3]
            .iter()
            .all(|(_, body, _)| body.starts_with("leaf-"))
    );
    let trial = states[first_open..]
        .iter()
        .position(|s| *s != "open")
        .map(|at| at + first_open)
        .expect("the breaker let a trial through");
    assert!(
        steps[first_open..trial]
            .iter()
            .all(|(_, body, _)| body == "fallback"),
        "while open, every answer is the fallback: {steps:?}"
    );
    assert!(steps.last().unwrap().1.starts_with("leaf-"), "{steps:?}");
}

#[test]
fn the_same_seed_replays_the_same_run_and_another_seed_does_not() {
    let _alone = alone();
    let first = breaker_walk(11);
    for _ in 0..4 {
        assert_eq!(breaker_walk(11), first);
    }
    assert_ne!(
        breaker_walk(12),
        first,
        "the seed decides latencies and ids"
    );
}

#[test]
fn a_stopped_instance_leaves_discovery_and_a_started_one_joins_it() {
    let _alone = alone();
    let (before, stopped, after) = Simulation::builder(2)
        .service::<Leaf>()
        .service::<Edge>()
        .run(|sim| async move {
            let before = sim.get("edge", "/").await?.body;
            let health = sim.health("leaf", 0).await?;
            assert_eq!(health.status, chassis::health::Status::Pass, "{health:?}");
            assert!(
                sim.logs("leaf")
                    .iter()
                    .any(|line| line.contains("service started")),
                "{:?}",
                sim.logs("leaf")
            );
            sim.stop("leaf", 0).await?;
            assert!(
                sim.health("leaf", 0).await.is_err(),
                "a stopped instance has no health"
            );
            assert!(
                sim.addr("leaf").is_err(),
                "a stopped instance has no address"
            );
            let stopped = sim.get("edge", "/").await?.body;
            sim.start("leaf", 0).await?;
            let after = sim.get("edge", "/").await?.body;
            Ok((before, stopped, after))
        })
        .unwrap();
    assert!(before.starts_with("leaf-"), "{before}");
    assert_eq!(stopped, "fallback", "no endpoint once deregistered");
    assert!(after.starts_with("leaf-"), "{after}");
    assert_ne!(after, before, "a restarted instance is a new instance");
}

#[test]
fn mistakes_in_a_simulation_are_named() {
    let _alone = alone();
    let unknown = Simulation::builder(1)
        .service::<Leaf>()
        .set("nope", "server.port", 1)
        .run(|_| async { Ok(()) });
    assert!(matches!(unknown, Err(ClusterError::UnknownService(name)) if name == "nope"));

    let twice = Simulation::builder(1)
        .service::<Leaf>()
        .service::<Leaf>()
        .run(|_| async { Ok(()) });
    assert!(matches!(twice, Err(ClusterError::DuplicateService(_))));

    let invalid = Simulation::builder(1)
        .service::<Leaf>()
        .set("leaf", "server.max_headers", 0)
        .run(|_| async { Ok(()) });
    match invalid {
        Err(ClusterError::Launch { service, source }) => {
            assert_eq!(service, "leaf");
            assert!(source.to_string().contains("max_headers"), "{source}");
        }
        other => panic!("expected a launch error, got {other:?}"),
    }

    let tls = Simulation::builder(1)
        .service::<Leaf>()
        .service::<Edge>()
        .set("edge", "clients.leaf.tls.enabled", true)
        .run(|_| async { Ok(()) });
    match tls {
        Err(ClusterError::Launch { service, source }) => {
            assert_eq!(service, "edge");
            assert!(
                source.to_string().contains("TLS is not simulated"),
                "{source}"
            );
        }
        other => panic!("expected a launch error, got {other:?}"),
    }

    let slow = Simulation::builder(1)
        .service::<Leaf>()
        .duration(std::time::Duration::from_secs(5))
        .run(|_| async {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            Ok(())
        });
    assert!(matches!(slow, Err(ClusterError::Simulation(_))), "{slow:?}");
}

/// Whether `flaky` fails to start.
static FLAKY_FAILS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Fails to build its router while [`FLAKY_FAILS`] is set.
#[chassis::service(name = "flaky", defaults = false)]
async fn flaky(_ctx: Context<()>) -> Result<Router, std::io::Error> {
    if FLAKY_FAILS.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(std::io::Error::other("told to fail"));
    }
    Ok(Router::new().route("/", get(|| async { "flaky" })))
}

#[test]
fn a_start_after_a_failed_one_waits_for_its_own_launch() {
    let _alone = alone();
    FLAKY_FAILS.store(false, std::sync::atomic::Ordering::SeqCst);
    Simulation::builder(4)
        .service::<Flaky>()
        .run(|sim| async move {
            sim.stop("flaky", 0).await?;
            FLAKY_FAILS.store(true, std::sync::atomic::Ordering::SeqCst);
            let failed = sim.start("flaky", 0).await;
            assert!(
                matches!(&failed, Err(ClusterError::Launch { service, .. }) if service == "flaky"),
                "{failed:?}"
            );
            FLAKY_FAILS.store(false, std::sync::atomic::Ordering::SeqCst);
            sim.start("flaky", 0).await?;
            assert_eq!(sim.get("flaky", "/").await?.body, "flaky");
            Ok(())
        })
        .unwrap();
}

#[test]
fn an_idle_pooled_connection_expires_in_simulated_time() {
    let _alone = alone();
    Simulation::builder(6)
        .service::<Leaf>()
        .service::<Edge>()
        // Only the client's pool may close the idle connection.
        .set("leaf", "server.idle_timeout", "1h")
        .run(|sim| async move {
            assert!(sim.get("edge", "/").await?.body.starts_with("leaf-"));
            assert_eq!(turmoil::established_tcp_stream_count_on("leaf-0"), 1);
            // The pool keeps idle connections 60 s and looks for expired ones every 60 s.
            tokio::time::sleep(std::time::Duration::from_secs(150)).await;
            assert_eq!(turmoil::established_tcp_stream_count_on("leaf-0"), 0);
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn a_simulation_inside_a_runtime_is_refused_by_name() {
    let _alone = alone();
    let inside = Simulation::builder(1)
        .service::<Leaf>()
        .run(|_| async { Ok(()) });
    match inside {
        Err(ClusterError::Simulation(message)) => {
            assert!(message.contains("plain #[test]"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_request_names_a_path_and_a_simulation_has_an_instance_of_each_service() {
    let _alone = alone();
    Simulation::builder(1)
        .service::<Leaf>()
        .run(|sim| async move {
            for uri in ["http://example.com/", "relative"] {
                let refused = sim.get("leaf", uri).await;
                assert!(
                    matches!(refused, Err(ClusterError::Endpoint { .. })),
                    "{uri}: {refused:?}"
                );
            }
            Ok(())
        })
        .unwrap();
    let none = Simulation::builder(1)
        .service::<Leaf>()
        .instances("leaf", 0)
        .run(|_| async { Ok(()) });
    assert!(
        matches!(none, Err(ClusterError::NoInstance { index: 0, .. })),
        "{none:?}"
    );
}
