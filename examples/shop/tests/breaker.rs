//! Catalog's faults open the gateway's circuit breaker (fallback answers, `/metrics` shows it
//! open), and healing closes it again. Its own process: breaker gauges are process-wide.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use chassis::config::FaultsConfig;
use common::{BOUND, breaker_state, get, shop};
use http::StatusCode;

#[tokio::test]
async fn catalog_faults_open_the_gateway_breaker_and_healing_closes_it() {
    let shop = shop().await;
    let gateway = shop.gateway().addr();
    assert_eq!(get(gateway, "/api/items").await.status, StatusCode::OK);

    let faults = shop
        .catalog()
        .faults()
        .expect("the shop enables fault injection");
    faults.set(&FaultsConfig {
        error_rate: 1.0,
        ..FaultsConfig::default()
    });
    // Every answer is the fallback, within a bounded time, and the breaker opens.
    let deadline = Instant::now() + BOUND;
    loop {
        let started = Instant::now();
        let reply = get(gateway, "/api/items").await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "fallback took too long"
        );
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.headers.get("x-fallback").unwrap(),
            "catalog-unavailable"
        );
        let metrics = get(shop.gateway().ops_addr(), "/metrics").await.body;
        if breaker_state(&metrics, "open") == Some(1.0) {
            promtool_accepts(&metrics);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the breaker never opened:\n{metrics}"
        );
    }

    // Heal; after the wait the trial calls succeed and the breaker closes.
    faults.set(&FaultsConfig::default());
    let deadline = Instant::now() + BOUND;
    loop {
        let reply = get(gateway, "/api/items").await;
        let metrics = get(shop.gateway().ops_addr(), "/metrics").await.body;
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

/// `promtool check metrics` (Debian's `prometheus` package, installed by scripts/test.sh)
/// accepts the gateway's exposition, breaker and retry metrics included.
fn promtool_accepts(metrics: &str) {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (run scripts/test.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
