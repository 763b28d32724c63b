//! The review's attack on the shop: a caller's spent deadline must not open any breaker. Its
//! own process: breaker gauges are process-wide.

#![allow(clippy::unwrap_used)]

mod common;

use common::{breaker_state, get, shop};
use http::StatusCode;

/// The review's attack: requests to the gateway carrying a spent deadline opened its catalog
/// breaker. The gateway is an edge and ignores the hint; orders, an internal service that
/// honours it, answers such a request 504 at once without calling catalog. No breaker moves.
#[tokio::test]
async fn a_callers_spent_deadline_opens_no_breaker() {
    let shop = shop().await;
    let spent = |addr: std::net::SocketAddr, path: &str| {
        let order = r#"{"lines":[{"item_id":"espresso","quantity":1}]}"#;
        let request = if path == "/orders" {
            http::Request::post(format!("http://{addr}{path}"))
                .header("content-type", "application/json")
                .header("idempotency-key", "spent-deadline")
                .header("x-request-timeout-ms", "0")
                .body(http_body_util::Full::new(order.into()))
        } else {
            http::Request::get(format!("http://{addr}{path}"))
                .header("x-request-timeout-ms", "0")
                .body(http_body_util::Full::default())
        };
        common::call(request.unwrap())
    };
    for _ in 0..10 {
        let reply = spent(shop.gateway().addr(), "/api/items").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(!reply.headers.contains_key("x-fallback"), "a real answer");
        let reply = spent(shop.orders().addr(), "/orders").await;
        assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    }
    for ops in [shop.gateway().ops_addr(), shop.orders().ops_addr()] {
        let metrics = get(ops, "/metrics").await.body;
        assert_eq!(breaker_state(&metrics, "closed"), Some(1.0), "{metrics}");
    }
    let reply = get(shop.gateway().addr(), "/api/items").await;
    assert!(!reply.headers.contains_key("x-fallback"));
    shop.shutdown().await;
}
