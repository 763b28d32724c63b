//! The shop with orders pricing over gRPC: the same orders as over HTTP, and catalog's gRPC
//! service, health and reflection on its one port.

#![allow(clippy::unwrap_used)]

mod common;

use common::{get, post_order};
use http::StatusCode;
use shop::Shop;

#[tokio::test]
async fn orders_priced_over_grpc_match_the_http_prices() {
    let mut options = common::options();
    options
        .overrides
        .push(("orders", "catalog_api".into(), "grpc".into()));
    let shop = Shop::start(&options).await.unwrap();
    let gateway = shop.gateway().addr();
    let body =
        r#"{"lines":[{"item_id":"espresso","quantity":2},{"item_id":"filters","quantity":1}]}"#;
    let placed = post_order(gateway, body, Some("grpc-1")).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
    let order = placed.json();
    assert_eq!(order["total_cents"], 2 * 2450 + 690);
    assert_eq!(order["lines"][0]["name"], "Espresso beans, 1 kg");
    assert_eq!(order["lines"][0]["currency"], "EUR");
    let unknown = r#"{"lines":[{"item_id":"nope","quantity":1}]}"#;
    let refused = post_order(gateway, unknown, None).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    // The gRPC calls show in orders' metrics, by the RPC conventions.
    let metrics = get(shop.orders().ops_addr(), "/metrics").await.body;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("rpc_client_call_duration_seconds_count")
                && l.contains("rpc_method=\"GetItem\"")
                && l.contains("rpc_grpc_status_code=\"0\"")),
        "{metrics}"
    );
    shop.shutdown().await;
}
