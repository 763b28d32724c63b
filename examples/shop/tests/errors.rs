//! Failed calls answer without internal text: the caller gets a generic detail and the
//! request id, the log gets what went wrong.

#![allow(clippy::unwrap_used)]

mod common;

use chassis::testing::Fault;
use common::{get, post_order, shop};
use shop::Shop;

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
    // Through link proxies, so that catalog can refuse its callers while registered.
    let mut shop = Shop::builder(&common::options()).start().await.unwrap();
    let catalog_port = shop.addr("catalog").unwrap().port();
    let gateway = shop.addr("gateway").unwrap();
    let order = r#"{"lines":[{"item_id":"espresso","quantity":1}]}"#;
    // Catalog refuses connections: transport failures, whose text names the address.
    for caller in ["gateway", "orders"] {
        shop.link(caller, "catalog").unwrap().set(Fault::Refuse);
    }
    let reply = get(gateway, "/api/items/espresso").await;
    assert_opaque(&reply, catalog_port);
    // Through the gateway to orders, whose pricing call to catalog fails.
    let reply = post_order(gateway, order, Some("leak-check")).await;
    assert_opaque(&reply, catalog_port);

    // Catalog gone: no endpoint to call at all.
    shop.stop("catalog", 0).await.unwrap();
    let reply = get(gateway, "/api/items/espresso").await;
    assert_opaque(&reply, catalog_port);
    let reply = post_order(gateway, order, Some("leak-check-2")).await;
    assert_opaque(&reply, catalog_port);
    shop.shutdown().await;
}

/// A body that grows past the gateway's limit while it is forwarded to orders is the
/// caller's mistake: `413`, as a declared one gets, not a `502`.
#[tokio::test]
async fn an_oversized_streamed_body_is_refused_with_413() {
    use futures_util::stream;
    use http_body_util::StreamBody;
    use hyper::body::{Bytes, Frame};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let shop = shop().await;
    let chunk = Bytes::from(vec![b' '; 64 * 1024]);
    // 3 MiB in chunks, no Content-Length: the gateway's 2 MiB limit cuts it mid-stream.
    let frames =
        stream::iter((0..48).map(move |_| Ok::<_, std::io::Error>(Frame::data(chunk.clone()))));
    let request = http::Request::post(format!("http://{}/api/orders", shop.gateway().addr()))
        .header("content-type", "application/json")
        .body(StreamBody::new(frames))
        .unwrap();
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    shop.shutdown().await;
}

/// Idempotency keys are bounded: one longer than 255 bytes is refused, not kept.
#[tokio::test]
async fn an_overlong_idempotency_key_is_refused() {
    let shop = shop().await;
    let order = r#"{"lines":[{"item_id":"espresso","quantity":1}]}"#;
    let long = "k".repeat(256);
    let reply = post_order(shop.gateway().addr(), order, Some(&long)).await;
    assert_eq!(
        reply.status,
        http::StatusCode::BAD_REQUEST,
        "{}",
        reply.body
    );
    let fits = "k".repeat(255);
    let reply = post_order(shop.gateway().addr(), order, Some(&fits)).await;
    assert_eq!(reply.status, http::StatusCode::CREATED, "{}", reply.body);
    shop.shutdown().await;
}

/// A gRPC caller of the gateway's JSON route gets a gRPC answer with its status, not an
/// HTTP 200 without `grpc-status` (orders answers it trailers-only; the gateway relays it).
#[tokio::test]
async fn a_grpc_caller_of_a_json_route_gets_a_grpc_status() {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let shop = shop().await;
    let request = http::Request::post(format!("http://{}/api/orders", shop.gateway().addr()))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from_static(b"\0\0\0\0\0")))
        .unwrap();
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let response = client.request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let trailers = body.collect().await.unwrap().trailers().cloned();
    let status = parts
        .headers
        .get("grpc-status")
        .or_else(|| trailers.as_ref().and_then(|t| t.get("grpc-status")));
    assert!(
        status.is_some_and(|code| code != "0"),
        "{parts:?} {trailers:?}"
    );
    shop.shutdown().await;
}
