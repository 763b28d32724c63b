//! The scenarios in the deterministic mode: the shop's services on a simulated
//! network and clock. A partition between gateway and catalog opens the gateway's breaker,
//! the fallback answers and healing closes it, the same way on every run from one seed; a
//! rolling restart of two catalog instances under steady calls from orders fails no call.
//! Its own process, one simulation at a time: breaker gauges are process-wide.

#![allow(clippy::unwrap_used)]

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use chassis::testing::{ClusterError, SimulatedCluster, Simulation};
use common::{TWO_ESPRESSO, breaker_state};

fn alone() -> MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the test saw of one call to gateway: simulated time (ms), status, `x-fallback`,
/// and whether gateway's breaker for catalog was open just after.
type Outcome = (u128, u16, Option<String>, bool);

async fn items(sim: &SimulatedCluster) -> Result<Outcome, ClusterError> {
    let reply = sim.get("gateway", "/api/items").await?;
    let open = breaker_state(&sim.metrics("gateway").await?, "open") == Some(1.0);
    Ok((
        sim.elapsed().as_millis(),
        reply.status.as_u16(),
        reply.header("x-fallback").map(str::to_owned),
        open,
    ))
}

/// The partition scenario from `seed`: calls until gateway's breaker opens, a partition,
/// healing, calls until it closes. Every outcome, in order.
fn partition_scenario(seed: u64) -> Vec<Outcome> {
    Simulation::builder(seed)
        .service::<catalog::Catalog>()
        .service::<orders::Orders>()
        .service::<gateway::Gateway>()
        .set("gateway", "clients.catalog.timeout", "200ms")
        .set("gateway", "clients.catalog.breaker.wait_in_open", "5s")
        .set("gateway", "clients.catalog.outlier.wait_in_open", "5s")
        .run(|sim| async move {
            let mut outcomes = vec![items(&sim).await?];
            assert_eq!(outcomes[0].1, 200);
            assert_eq!(outcomes[0].2, None);
            sim.partition("gateway", "catalog")?;
            // Calls until the breaker opens: each is answered by the fallback.
            loop {
                let outcome = items(&sim).await?;
                assert_eq!(outcome.1, 200);
                assert_eq!(outcome.2.as_deref(), Some("catalog-unavailable"));
                let open = outcome.3;
                outcomes.push(outcome);
                if open {
                    break;
                }
                assert!(
                    outcomes.len() < 200,
                    "the breaker never opened: {outcomes:?}"
                );
            }
            // The orders link was never touched: orders still prices through catalog.
            let placed = sim
                .send(
                    "orders",
                    http::Request::post("/orders")
                        .header("content-type", "application/json")
                        .body(Bytes::from_static(TWO_ESPRESSO.as_bytes()))
                        .unwrap(),
                )
                .await?;
            assert_eq!(placed.status, 201, "{}", placed.body);
            sim.repair("gateway", "catalog")?;
            // Calls until the breaker has closed again and catalog answers.
            loop {
                let outcome = items(&sim).await?;
                let healed = !outcome.3 && outcome.2.is_none();
                let metrics = sim.metrics("gateway").await?;
                outcomes.push(outcome);
                if healed && breaker_state(&metrics, "closed") == Some(1.0) {
                    break;
                }
                assert!(
                    outcomes.len() < 2_000,
                    "the breaker never closed: {outcomes:?}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Ok(outcomes)
        })
        .unwrap()
}

#[test]
fn a_partition_opens_the_gateway_breaker_and_healing_closes_it_the_same_way_from_a_seed() {
    let _alone = alone();
    let first = partition_scenario(20);
    assert!(first.iter().any(|outcome| outcome.3), "{first:?}");
    for run in 1..20 {
        let again = partition_scenario(20);
        assert_eq!(again, first, "run {run} differed from the first");
    }
}

/// Restarts both catalog instances in turn while four callers place orders, which orders
/// prices through catalog over `catalog_api` (`http` or `grpc`); every failed call.
fn rolling_restart(catalog_api: &str) -> (usize, Vec<String>) {
    Simulation::builder(5)
        .service::<catalog::Catalog>()
        .service::<orders::Orders>()
        .instances("catalog", 2)
        .set("orders", "catalog_api", catalog_api)
        // One attempt per call: no retry hides a call sent to an instance on its way out.
        .set("orders", "clients.catalog.retry.max_attempts", 1)
        .run(|sim| async move {
            let calls = Rc::new(RefCell::new(0_usize));
            let failures = Rc::new(RefCell::new(Vec::new()));
            let stop = Rc::new(RefCell::new(false));
            let callers: Vec<_> = (0..4)
                .map(|_| {
                    let (sim, calls, failures, stop) =
                        (sim.clone(), calls.clone(), failures.clone(), stop.clone());
                    tokio::task::spawn_local(async move {
                        while !*stop.borrow() {
                            let request = http::Request::post("/orders")
                                .header("content-type", "application/json")
                                .body(Bytes::from_static(TWO_ESPRESSO.as_bytes()))
                                .unwrap();
                            match sim.send("orders", request).await {
                                Ok(reply) if reply.status == 201 => {}
                                Ok(reply) => failures
                                    .borrow_mut()
                                    .push(format!("{} {}", reply.status, reply.body)),
                                Err(error) => failures.borrow_mut().push(error.to_string()),
                            }
                            *calls.borrow_mut() += 1;
                        }
                    })
                })
                .collect();
            let until_more = |more: usize| {
                let calls = calls.clone();
                async move {
                    let target = *calls.borrow() + more;
                    while *calls.borrow() < target {
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                }
            };
            until_more(50).await;
            for index in 0..2 {
                let before = *calls.borrow();
                sim.restart("catalog", index).await?;
                assert!(
                    *calls.borrow() > before,
                    "no call was made during the restart"
                );
                until_more(50).await;
            }
            *stop.borrow_mut() = true;
            for caller in callers {
                caller.await.unwrap();
            }
            let calls = *calls.borrow();
            let failures = failures.borrow().clone();
            Ok((calls, failures))
        })
        .unwrap()
}

#[test]
fn a_rolling_restart_of_two_catalogs_fails_no_call_in_simulation() {
    let _alone = alone();
    let (calls, failures) = rolling_restart("http");
    assert!(
        failures.is_empty(),
        "{} of {calls} calls failed: {failures:?}",
        failures.len()
    );
}

#[test]
fn a_rolling_restart_fails_no_call_in_simulation_when_orders_prices_over_grpc() {
    let _alone = alone();
    let (calls, failures) = rolling_restart("grpc");
    assert!(
        failures.is_empty(),
        "{} of {calls} calls failed: {failures:?}",
        failures.len()
    );
}
