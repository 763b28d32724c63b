//! Failed calls answer without internal text: the caller gets a generic detail and the
//! request id, the log gets what went wrong.

#![allow(clippy::unwrap_used)]

mod common;

use common::{get, post_order, shop};

/// Asserts a 5xx problem carries the request id and nothing of the failure's own text.
fn assert_opaque(reply: &common::Reply, catalog_port: u16) {
    assert!(
        reply.status.is_server_error(),
        "{} {}",
        reply.status,
        reply.body
    );
    let problem = reply.json();
    let id = reply.headers["x-request-id"].to_str().unwrap();
    assert_eq!(problem["request_id"], id, "{}", reply.body);
    for internal in [
        "127.0.0.1",
        &catalog_port.to_string(),
        "onnect",
        "refused",
        "error trying",
        "call to",
    ] {
        assert!(
            !reply.body.contains(internal),
            "{internal:?} in {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn a_failed_dependency_leaks_nothing_to_the_caller() {
    let shop = shop().await;
    let catalog_port = shop.catalog.addr().port();
    let gateway = shop.gateway.addr();
    let common::ShopParts { catalog, rest } = common::split(shop);
    catalog.shutdown().await;
    let reply = get(gateway, "/api/items/espresso").await;
    assert_opaque(&reply, catalog_port);
    let order = r#"{"lines":[{"item_id":"espresso","quantity":1}]}"#;
    // Through the gateway to orders, whose pricing call to catalog fails.
    let reply = post_order(gateway, order, Some("leak-check")).await;
    assert_opaque(&reply, catalog_port);
    rest.shutdown().await;
}
