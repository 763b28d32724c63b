//! The scenarios on `chassis::testing`, over real loopback: a partition between
//! gateway and catalog opens the gateway's breaker (the fallback answers) and healing closes
//! it; a rolling restart of two catalog instances under steady calls from orders fails no
//! call. Its own process: breaker gauges and captured logs are process-wide.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chassis::testing::{Fault, TestCluster};
use common::{BOUND, Reply, TWO_ESPRESSO, breaker_state, call, get};
use http::StatusCode;
use http_body_util::Full;
use hyper::body::Bytes;

/// `POST /orders` straight to orders, which prices the order through catalog.
async fn place_order(orders: std::net::SocketAddr) -> Reply {
    let request = http::Request::post(format!("http://{orders}/orders"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(TWO_ESPRESSO.as_bytes())))
        .unwrap();
    call(request).await
}

/// catalog, orders and gateway, the breaker quick to trip and to try again.
async fn shop() -> TestCluster {
    TestCluster::builder()
        .service::<catalog::Catalog>()
        .service::<orders::Orders>()
        .service::<gateway::Gateway>()
        .set("gateway", "clients.catalog.timeout", "200ms")
        .set("gateway", "clients.catalog.breaker.wait_in_open", "300ms")
        .set("gateway", "clients.catalog.outlier.wait_in_open", "300ms")
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_partition_opens_the_gateway_breaker_the_fallback_answers_and_healing_closes_it() {
    let shop = shop().await;
    let gateway = shop.addr("gateway").unwrap();
    let items = get(gateway, "/api/items").await;
    assert_eq!(items.status, StatusCode::OK);
    assert!(items.headers.get("x-fallback").is_none());

    let link = shop.link("gateway", "catalog").unwrap();
    link.set(Fault::Partition);
    let deadline = Instant::now() + BOUND;
    loop {
        // Every answer is the fallback: the last list seen, marked.
        let reply = get(gateway, "/api/items").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.headers.get("x-fallback").unwrap(),
            "catalog-unavailable"
        );
        assert_eq!(reply.json(), items.json(), "the fallback is the last list");
        let metrics = shop.metrics("gateway").await.unwrap();
        if breaker_state(&metrics, "open") == Some(1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the breaker never opened:\n{metrics}"
        );
    }
    // The orders link was never touched: orders still reaches catalog.
    let placed = place_order(shop.addr("orders").unwrap()).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);

    link.heal();
    let deadline = Instant::now() + BOUND;
    loop {
        let reply = get(gateway, "/api/items").await;
        let metrics = shop.metrics("gateway").await.unwrap();
        if breaker_state(&metrics, "closed") == Some(1.0)
            && reply.headers.get("x-fallback").is_none()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the breaker never closed:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shop.shutdown().await;
}

/// Calls orders (which prices each order through catalog) until told to stop.
struct Load {
    stop: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
    failures: Arc<std::sync::Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(orders: std::net::SocketAddr, callers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks = (0..callers)
            .map(|_| {
                let (stop, calls, failures) = (stop.clone(), calls.clone(), failures.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let reply = place_order(orders).await;
                        if reply.status != StatusCode::CREATED {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{} {}", reply.status, reply.body));
                        }
                        calls.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        Self {
            stop,
            calls,
            failures,
            tasks,
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// Waits until `more` further calls have completed.
    async fn until_more(&self, more: usize) {
        let target = self.calls() + more;
        let deadline = Instant::now() + BOUND;
        while self.calls() < target {
            assert!(Instant::now() < deadline, "the load stalled");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        std::mem::take(&mut *self.failures.lock().unwrap())
    }
}

#[tokio::test]
async fn a_rolling_restart_of_two_catalogs_under_steady_calls_fails_no_call() {
    rolling_restart("http").await;
}

#[tokio::test]
async fn a_rolling_restart_fails_no_call_when_orders_prices_over_grpc() {
    rolling_restart("grpc").await;
}

/// Restarts both catalog instances in turn while four callers place orders, which orders
/// prices through catalog over `catalog_api` (`http` or `grpc`).
async fn rolling_restart(catalog_api: &str) {
    // Without the gateway: its breaker gauges belong to the other test of this binary.
    let mut shop = TestCluster::builder()
        .service::<catalog::Catalog>()
        .service::<orders::Orders>()
        .instances("catalog", 2)
        .set("orders", "catalog_api", catalog_api)
        // One attempt per call: no retry hides a call sent to an instance on its way out.
        .set("orders", "clients.catalog.retry.max_attempts", 1)
        .start()
        .await
        .unwrap();
    let load = Load::start(shop.addr("orders").unwrap(), 4);
    load.until_more(20).await;
    for index in 0..2 {
        let old = shop
            .instance("catalog", index)
            .unwrap()
            .identity()
            .instance_id
            .clone();
        let before = load.calls();
        shop.restart("catalog", index).await.unwrap();
        assert_ne!(
            shop.instance("catalog", index)
                .unwrap()
                .identity()
                .instance_id,
            old
        );
        assert!(load.calls() > before, "no call was made during the restart");
        load.until_more(20).await;
    }
    let calls = load.calls();
    let failures = load.stop().await;
    assert!(
        failures.is_empty(),
        "{} of {calls} calls failed: {failures:?}",
        failures.len()
    );
    shop.shutdown().await;
}
