//! Trust and exposure over real loopback: what an untrusted caller's hints can do (nothing),
//! the deadline floor, the operational endpoints outside the stack, and the admin surface
//! closed by default.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{client, gate, get, hits, send, spawn};
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;

const BOUND: Duration = Duration::from_secs(20);
const TOKEN: &str = "test-admin-token-0123456789";
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A request to `addr` with extra headers.
fn request(
    method: Method,
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Request<Full<bytes::Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Full::new(bytes::Bytes::from(body.to_owned())))
        .unwrap()
}

/// What the handler saw of a request with all the hints a caller can send.
async fn seen_with_hints(addr: std::net::SocketAddr) -> (serde_json::Value, http::HeaderMap) {
    let hints = [
        ("traceparent", CALLER_TP),
        ("tracestate", "vendor=opaque"),
        ("baggage", "user=alice"),
        ("x-request-timeout-ms", "250"),
        ("x-request-id", "caller-chosen-id"),
    ];
    let reply = send(
        &client(),
        request(Method::GET, addr, "/context", &hints, ""),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    (reply.json(), reply.headers)
}

#[tokio::test]
async fn an_internal_service_honours_its_callers_hints() {
    let service = spawn(&[]).await;
    let (seen, headers) = seen_with_hints(service.addr()).await;
    assert_eq!(seen["trace_id"], CALLER_TRACE);
    assert_eq!(seen["baggage"], "user=alice");
    assert_eq!(seen["tracestate"], "vendor=opaque");
    assert_eq!(seen["deadline_header"], "250");
    assert_eq!(headers["x-request-id"], "caller-chosen-id");
    assert!(seen["caller_link"].is_null());
    service.shutdown().await;
}

#[tokio::test]
async fn an_edge_honours_no_hint_and_links_the_callers_trace() {
    let service = spawn(&[("server.trust.mode", "edge")]).await;
    let (seen, headers) = seen_with_hints(service.addr()).await;
    assert_ne!(seen["trace_id"], CALLER_TRACE, "a trace of its own");
    assert!(seen["parent_id"].is_null(), "a root");
    assert_eq!(seen["caller_link"], CALLER_TP, "the caller kept as a link");
    assert!(seen["baggage"].is_null() && seen["tracestate"].is_null());
    assert!(
        seen["deadline_header"].is_null(),
        "the deadline never reached the handler"
    );
    // A sane id is validated and kept; with `regenerate`, replaced.
    assert_eq!(headers["x-request-id"], "caller-chosen-id");
    let deadline = get(service.addr(), "/deadline").await.text();
    assert_eq!(deadline, "none");
    service.shutdown().await;

    let strict = spawn(&[
        ("server.trust.mode", "edge"),
        ("server.trust.request_id", "regenerate"),
    ])
    .await;
    let (seen, headers) = seen_with_hints(strict.addr()).await;
    let id = headers["x-request-id"].to_str().unwrap();
    assert_ne!(id, "caller-chosen-id");
    assert_eq!(
        seen["request_id"], id,
        "the handler sees the id the caller gets"
    );
    strict.shutdown().await;
}

#[tokio::test]
async fn an_edge_trusts_the_peers_it_lists() {
    let service = spawn(&[
        ("server.trust.mode", "edge"),
        ("server.trust.peers", "10.0.0.0/8, 127.0.0.1"),
    ])
    .await;
    let (seen, _) = seen_with_hints(service.addr()).await;
    assert_eq!(seen["trace_id"], CALLER_TRACE, "loopback is listed");
    assert_eq!(seen["deadline_header"], "250");
    service.shutdown().await;
    let elsewhere = spawn(&[("server.trust.peers", "10.0.0.0/8")]).await;
    let (seen, _) = seen_with_hints(elsewhere.addr()).await;
    assert_ne!(
        seen["trace_id"], CALLER_TRACE,
        "only the listed ranges are trusted"
    );
    elsewhere.shutdown().await;
}

#[tokio::test]
async fn a_deadline_below_the_floor_fails_the_request_alone_at_once() {
    let service = spawn(&[("server.deadline_floor", "5ms")]).await;
    let key = "below-floor";
    for spent in ["0", "4"] {
        let path = format!("/work/{key}");
        let hints = [("x-request-timeout-ms", spent)];
        let reply = send(
            &client(),
            request(Method::GET, service.addr(), &path, &hints, ""),
        )
        .await
        .unwrap();
        assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT, "{spent}");
        assert_eq!(
            reply.headers[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
    assert_eq!(hits(key).load(Ordering::SeqCst), 0, "the handler never ran");
    let path = format!("/work/{key}");
    let hints = [("x-request-timeout-ms", "5000")];
    let reply = send(
        &client(),
        request(Method::GET, service.addr(), &path, &hints, ""),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    service.shutdown().await;
}

#[tokio::test]
async fn liveness_answers_while_the_service_sheds_its_own_routes() {
    let service = spawn(&[
        ("server.max_concurrent_requests", "1"),
        ("server.max_body_size", "16B"),
        ("faults.enabled", "true"),
        ("faults.latency", "1ms"),
    ])
    .await;
    let addr = service.addr();
    let key = "shedding";
    let held = tokio::spawn(async move { get(addr, &format!("/gate/{key}")).await });
    let deadline = Instant::now() + BOUND;
    while hits(key).load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the held request never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        get(addr, "/hello").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    for path in [
        "/health/live",
        "/health/ready",
        "/health",
        "/metrics",
        "/info",
    ] {
        assert_eq!(get(addr, path).await.status, StatusCode::OK, "{path}");
    }
    // Not body-limited either (a probe has no body, but a scrape through a proxy may).
    let big = "x".repeat(64);
    let reply = send(
        &client(),
        request(Method::GET, addr, "/health/live", &[], &big),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    gate(key).notify_one();
    assert_eq!(held.await.unwrap().status, StatusCode::OK);
    service.shutdown().await;
}

#[tokio::test]
async fn without_a_token_there_is_no_admin_route() {
    let service = spawn(&[("server.admin_port", "0"), ("faults.enabled", "true")]).await;
    let admin = service.admin_addr().unwrap();
    for path in ["/admin/log-level", "/admin/faults"] {
        let with = [("authorization", "Bearer anything")];
        let reply = send(&client(), request(Method::PUT, admin, path, &with, "{}"))
            .await
            .unwrap();
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(get(admin, "/health/live").await.status, StatusCode::OK);
    // Nor on the service port.
    let reply = send(
        &client(),
        request(Method::PUT, service.addr(), "/admin/faults", &[], "{}"),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    service.shutdown().await;
}

#[tokio::test]
async fn admin_routes_answer_only_the_token() {
    let service = spawn(&[
        ("server.admin_port", "0"),
        ("server.admin_token", TOKEN),
        ("faults.enabled", "true"),
    ])
    .await;
    let admin = service.admin_addr().unwrap();
    let put = |path: &'static str, authorization: Option<String>, body: &'static str| {
        let auth = authorization.map(|a| ("authorization", a));
        let headers: Vec<(&str, &str)> = auth.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let request = request(Method::PUT, admin, path, &headers, body);
        async move { send(&client(), request).await.unwrap() }
    };
    let refused = put("/admin/faults", None, r#"{"error_rate":1.0}"#).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        refused.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert!(!refused.text().contains(TOKEN));
    let wrong = put("/admin/faults", Some("Bearer not-the-token".into()), "{}").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(service.addr(), "/hello").await.status,
        StatusCode::OK,
        "nothing changed"
    );
    let bearer = Some(format!("Bearer {TOKEN}"));
    let changed = put("/admin/faults", bearer.clone(), r#"{"error_rate":1.0}"#).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(
        get(service.addr(), "/hello").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let healed = put("/admin/faults", bearer.clone(), "{}").await;
    assert_eq!(healed.status, StatusCode::OK);
    // Probes and the scrape need no token.
    assert_eq!(get(admin, "/health/ready").await.status, StatusCode::OK);
    assert_eq!(get(admin, "/metrics").await.status, StatusCode::OK);
    // A log filter that sets no default level is refused and changes nothing.
    for bad in ["", "aaaa", "chassis=debug"] {
        let reply = put("/admin/log-level", bearer.clone(), bad).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad:?}");
    }
    let reply = send(
        &client(),
        request(
            Method::GET,
            admin,
            "/admin/log-level",
            &[("authorization", &format!("Bearer {TOKEN}"))],
            "",
        ),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert!(!reply.text().is_empty());
    service.shutdown().await;
}

#[tokio::test]
async fn faults_without_enabling_them_exist_nowhere() {
    let service = spawn(&[("server.admin_port", "0"), ("server.admin_token", TOKEN)]).await;
    let admin = service.admin_addr().unwrap();
    let auth = format!("Bearer {TOKEN}");
    let with = [("authorization", auth.as_str())];
    let reply = send(
        &client(),
        request(Method::PUT, admin, "/admin/faults", &with, "{}"),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(service.faults().is_none());
    service.shutdown().await;
}

#[tokio::test]
async fn the_admin_port_can_bind_another_interface() {
    let service = spawn(&[
        ("server.admin_port", "0"),
        ("server.admin_host", "127.0.0.2"),
    ])
    .await;
    let admin = service.admin_addr().unwrap();
    assert_eq!(admin.ip().to_string(), "127.0.0.2");
    assert_eq!(service.addr().ip().to_string(), "127.0.0.1");
    assert_eq!(get(admin, "/health/live").await.status, StatusCode::OK);
    service.shutdown().await;
}

#[tokio::test]
async fn an_admin_token_without_an_admin_port_or_too_short_is_refused_at_start() {
    for overrides in [
        vec![("server.admin_token", TOKEN)],
        vec![("server.admin_port", "0"), ("server.admin_token", "short")],
    ] {
        let mut all = vec![("server.port", "0")];
        all.extend(overrides);
        let error = chassis::service::spawn::<common::TestService>(all)
            .await
            .unwrap_err();
        let report = error.to_string();
        assert!(report.contains("server.admin_token"), "{report}");
        assert!(
            !report.contains("short\""),
            "the value is never shown: {report}"
        );
    }
}
