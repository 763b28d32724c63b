//! The complete test of docs/testing.md: cut catalog off from the gateway, watch the breaker.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use chassis::testing::{Fault, TestCluster, get_text};

const OPEN: &str =
    r#"chassis_breaker_state{client="catalog",state="open",service_name="gateway"} 1"#;

#[tokio::test]
async fn the_gateway_answers_from_its_fallback_while_catalog_is_cut_off() {
    let shop = TestCluster::builder()
        .service::<catalog::Catalog>()
        .service::<orders::Orders>()
        .service::<gateway::Gateway>()
        .set("gateway", "clients.catalog.timeout", "200ms")
        .start()
        .await
        .unwrap();
    let gateway = shop.addr("gateway").unwrap();
    let items = get_text(gateway, "/api/items").await.unwrap();

    let link = shop.link("gateway", "catalog").unwrap();
    link.set(Fault::Partition);
    // The gateway answers the last list it saw until its breaker opens, and after.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !shop.metrics("gateway").await.unwrap().contains(OPEN) {
        assert_eq!(get_text(gateway, "/api/items").await.unwrap(), items);
        assert!(Instant::now() < deadline, "the breaker never opened");
    }
    assert_eq!(get_text(gateway, "/api/items").await.unwrap(), items);
    link.heal();
    shop.shutdown().await;
}
