//! Several services in one process stay apart: each one's `/metrics` shows its own series
//! (labelled `service_name="<name>"`) and the process's, never another service's.

#![allow(clippy::unwrap_used)]

mod common;

use common::{get, shop};

#[tokio::test]
async fn each_service_shows_its_own_metrics() {
    let shop = shop().await;
    assert!(
        get(shop.gateway().addr(), "/api/items")
            .await
            .status
            .is_success()
    );
    let order = r#"{"lines":[{"item_id":"espresso","quantity":1}]}"#;
    let placed = common::post_order(shop.gateway().addr(), order, Some("apart")).await;
    assert!(placed.status.is_success(), "{}", placed.body);

    let catalog = get(shop.catalog().ops_addr(), "/metrics").await.body;
    let orders = get(shop.orders().ops_addr(), "/metrics").await.body;
    let gateway = get(shop.gateway().ops_addr(), "/metrics").await.body;
    // Catalog serves /items/{id}; the gateway's routes are not there.
    assert!(catalog.contains("http_route=\"/items/{id}\""), "{catalog}");
    assert!(!catalog.contains("/api/items"), "{catalog}");
    assert!(gateway.contains("http_route=\"/api/items\""), "{gateway}");
    // Gateway's and orders' catalog breakers are two series, each in its own service.
    let breaker = "chassis_breaker_state{client=\"catalog\",state=\"closed\"";
    assert!(
        gateway.contains(&format!("{breaker},service_name=\"gateway\"}} 1")),
        "{gateway}"
    );
    assert!(
        orders.contains(&format!("{breaker},service_name=\"orders\"}} 1")),
        "{orders}"
    );
    for (own, text) in [
        ("catalog", &catalog),
        ("orders", &orders),
        ("gateway", &gateway),
    ] {
        for other in ["catalog", "orders", "gateway"]
            .into_iter()
            .filter(|o| *o != own)
        {
            assert!(
                !text.contains(&format!("service_name=\"{other}\"")),
                "{own}'s /metrics shows {other}'s series"
            );
        }
        // The process's own metrics are in each.
        assert!(text.contains("process_resident_memory_bytes"), "{own}");
    }
    shop.shutdown().await;
}
