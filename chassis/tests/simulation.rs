//! `chassis::testing::Simulation`: services on a simulated network and clock.

#![allow(clippy::unwrap_used, missing_docs)]

use axum::extract::State;
use axum::{Router, routing::get};
use chassis::client::{ClientBuildError, HttpClient};
use chassis::service::Context;
use chassis::testing::{ClusterError, Simulation};

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
    let started = std::time::Instant::now();
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
    eprintln!("real time {:?}", started.elapsed());
    assert!(before.starts_with("leaf-") || !before.is_empty(), "{before}");
    assert_eq!(during, "fallback");
    assert_eq!(after, before);
}
