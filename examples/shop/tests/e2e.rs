//! The three example services in one process over real loopback HTTP, started by
//! `chassis::testing` (ephemeral ports, discovery wired between them): orders placed through
//! the gateway, idempotency and bad bodies.

#![allow(clippy::unwrap_used)]

mod common;

use chassis::testing::TestCluster;
use common::{TWO_ESPRESSO, get, post_order};
use http::StatusCode;

#[tokio::test]
async fn orders_through_the_gateway_are_priced_idempotent_and_validated() {
    let shop = TestCluster::builder()
        .service::<catalog::Catalog>()
        .service::<orders::Orders>()
        .service::<gateway::Gateway>()
        .start()
        .await
        .unwrap();
    let gateway = shop.addr("gateway").unwrap();

    let items = get(gateway, "/api/items").await;
    assert_eq!(items.status, StatusCode::OK);
    let list = items.json();
    let first = &list.as_array().unwrap()[0];
    for field in ["id", "name", "price_cents"] {
        assert!(first.get(field).is_some(), "items carry {field}");
    }
    assert_eq!(
        get(gateway, "/api/items/espresso").await.json()["price_cents"],
        2450
    );
    assert_eq!(
        get(gateway, "/api/items/nope").await.status,
        StatusCode::NOT_FOUND
    );

    let placed = post_order(gateway, TWO_ESPRESSO, Some("key-1")).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
    let order = placed.json();
    assert_eq!(order["total_cents"], 4900);
    assert_eq!(order["lines"][0]["quantity"], 2);
    let id = order["id"].as_str().unwrap().to_owned();

    // The same key returns the same order, never a duplicate, even when racing.
    let (again, racing) = tokio::join!(
        post_order(gateway, TWO_ESPRESSO, Some("key-1")),
        post_order(gateway, TWO_ESPRESSO, Some("key-1")),
    );
    assert_eq!(again.json()["id"], id.as_str());
    assert_eq!(racing.json()["id"], id.as_str());
    let (a, b) = tokio::join!(
        post_order(gateway, TWO_ESPRESSO, Some("key-2")),
        post_order(gateway, TWO_ESPRESSO, Some("key-2")),
    );
    assert_eq!(a.json()["id"], b.json()["id"]);
    assert_ne!(a.json()["id"], id.as_str());

    let fetched = get(gateway, &format!("/api/orders/{id}")).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.json(), order);
    assert_eq!(
        get(gateway, "/api/orders/ord-999999").await.status,
        StatusCode::NOT_FOUND
    );

    // Bad bodies get a 4xx problem, never a 500.
    for (body, status) in [
        ("{not json", StatusCode::BAD_REQUEST),
        (
            r#"{"lines":[{"item_id":"nope","quantity":1}]}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (r#"{"lines":[]}"#, StatusCode::UNPROCESSABLE_ENTITY),
        (
            r#"{"lines":[{"item_id":"espresso","quantity":0}]}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"lines":[{"item_id":"espresso"}]}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (r#"{"items":[]}"#, StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let reply = post_order(gateway, body, None).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert_eq!(
            reply.headers.get("content-type").unwrap(),
            "application/problem+json",
            "{body}"
        );
    }
    shop.shutdown().await;
}
