//! The shop as `cargo run -p shop` starts it: configuration from the process (here its
//! environment through the options' seam), wired directly by the cluster. Its own process:
//! services started from the process install the chassis' log subscriber.

#![allow(clippy::unwrap_used)]

mod common;

use chassis::testing::ClusterError;
use common::{get, post_order};
use http::StatusCode;
use shop::{SERVICES, Shop, ShopOptions};

#[tokio::test]
async fn the_demo_reads_each_services_environment_and_is_wired_in_the_process() {
    let mut env: Vec<(String, String)> = [
        // Where the demo would bind 8081: another loopback address and a free port.
        ("CATALOG__SERVER__HOST", "127.0.0.2"),
        // The environment beats the demo's defaults (250 ms).
        ("CATALOG__SHUTDOWN__DRAIN_DELAY", "50ms"),
        // No longer what wires the demo: discovery is the cluster's.
        ("ORDERS__DISCOVERY__STATIC__CATALOG", "127.0.0.1:1"),
        ("GATEWAY__DISCOVERY__STATIC__CATALOG", "127.0.0.1:1"),
        ("GATEWAY__DISCOVERY__STATIC__ORDERS", "127.0.0.1:1"),
    ]
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .into();
    for service in SERVICES {
        let prefix = service.to_ascii_uppercase();
        env.push((format!("{prefix}__SERVER__PORT"), "0".to_owned()));
        env.push((
            format!("{prefix}__TELEMETRY__LOG__LEVEL"),
            "warn".to_owned(),
        ));
    }
    let shop = Shop::start(&ShopOptions {
        from_process: true,
        env,
        ..ShopOptions::default()
    })
    .await
    .unwrap();

    // The environment reached each service: hosts and ports, none of 8080-8082.
    let catalog = shop.catalog().addr();
    assert_eq!(catalog.ip().to_string(), "127.0.0.2");
    // The others keep the demo's default: loopback, where they are also reached.
    for handle in [shop.orders(), shop.gateway()] {
        assert_eq!(
            handle.addr().ip().to_string(),
            "127.0.0.1",
            "{}",
            handle.addr()
        );
    }
    for handle in [shop.catalog(), shop.orders(), shop.gateway()] {
        assert!(
            !(8080..=8082).contains(&handle.addr().port()),
            "{}",
            handle.addr()
        );
    }
    let drain = &shop.catalog().reload_handle().effective().keys["shutdown.drain_delay"];
    assert_eq!(
        (drain.value.as_str(), drain.source.as_str()),
        (
            Some("50ms"),
            "environment variable CATALOG__SHUTDOWN__DRAIN_DELAY"
        )
    );
    // The demo's defaults where nothing else says otherwise.
    assert!(shop.catalog().faults().is_some(), "fault injection is on");

    // Orders placed through the gateway: orders and gateway found catalog in the process,
    // at its own address (127.0.0.2), whatever the static discovery variables say.
    let gateway = shop.gateway().addr();
    let items = get(gateway, "/api/items").await;
    assert_eq!(items.status, StatusCode::OK);
    assert!(
        !items.headers.contains_key("x-fallback"),
        "catalog answered"
    );
    let order = r#"{"lines":[{"item_id":"espresso","quantity":2}]}"#;
    let placed = post_order(gateway, order, Some("demo-1")).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
    assert_eq!(placed.json()["total_cents"], 4900);
    assert!(matches!(
        shop.cluster().link("orders", "catalog"),
        Err(ClusterError::DirectlyWired { .. })
    ));
    shop.shutdown().await;
}
