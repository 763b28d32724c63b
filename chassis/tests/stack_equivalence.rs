//! The fused standard stack and the standalone layers implement the same policies twice; the
//! same requests through `standard_stack(config, router)` and through a `ServiceBuilder` of
//! the standalone layers, in the fused stack's order and with the same configuration, must
//! get the same answer: the same status, the same problem body (its members and their
//! values, the request id member included), the same `x-request-id` and `retry-after`.
//!
//! Left out, on purpose: what only the fused stack does and no standalone layer has, i.e.
//! the trust boundary (the callers here are trusted, so nothing is stripped), the deadline
//! floor (set to zero here: a caller's deadline is never refused up front) and the HTTP/2
//! header count (`431`; these requests have a handful of headers).

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::response::Response;
use axum::routing::{get, post};
use chassis::config::{ByteSize, ServerConfig};
use chassis::resilience::deadline::{Deadline, DeadlineLayer};
use chassis::server::{
    BodyLimitLayer, CatchPanicLayer, HandleErrorLayer, LoadShedLayer, RequestIdLayer,
    RequestTimeoutLayer, standard_stack,
};
use futures_util::FutureExt as _;
use http::Request;
use http_body_util::BodyExt as _;
use tokio::sync::Notify;
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, ServiceExt as _};

type Stack = BoxCloneService<Request<Body>, Response, Infallible>;

fn config() -> ServerConfig {
    ServerConfig {
        request_timeout: Duration::from_secs(1),
        max_concurrent_requests: 1,
        max_body_size: ByteSize(16),
        body_read_timeout: Duration::from_secs(5),
        deadline_floor: Duration::ZERO,
        ..ServerConfig::default()
    }
}

/// `/` answers `ok`, `/panic` panics, `/slow` takes 10 s, `/wait` waits for `gate`,
/// `/deadline` answers the deadline it sees, `POST /echo` answers the body it read.
fn router(gate: Arc<Notify>) -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/panic", get(panicking))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "slow"
            }),
        )
        .route(
            "/wait",
            get(move || async move {
                gate.notified().await;
                "waited"
            }),
        )
        .route(
            "/deadline",
            get(|request: Request<Body>| async move {
                let current = Deadline::current().map(Deadline::remaining);
                let stored = Deadline::for_request(&request).map(Deadline::remaining);
                format!("current {current:?}, in the request {stored:?}")
            }),
        )
        .route("/echo", post(|body: Bytes| async move { body }))
}

async fn panicking() -> &'static str {
    panic!("the handler failed")
}

/// Both stacks over the same kind of router, each with its own gate.
fn stacks() -> [(&'static str, Stack, Arc<Notify>); 2] {
    let config = config();
    let fused_gate = Arc::new(Notify::new());
    let fused = standard_stack(&config, router(Arc::clone(&fused_gate)));
    assert!(fused.is_trusted(), "the default trusts its callers");
    let layered_gate = Arc::new(Notify::new());
    let layered = ServiceBuilder::new()
        .layer(RequestIdLayer)
        .layer(CatchPanicLayer)
        .layer(HandleErrorLayer)
        .layer(LoadShedLayer::new(config.max_concurrent_requests))
        .layer(RequestTimeoutLayer::new(config.request_timeout))
        .layer(DeadlineLayer::new().max(config.request_timeout))
        .layer(
            BodyLimitLayer::new(config.max_body_size.as_usize())
                .read_timeout(config.body_read_timeout),
        )
        .service(router(Arc::clone(&layered_gate)));
    [
        ("fused", BoxCloneService::new(fused), fused_gate),
        ("layered", BoxCloneService::new(layered), layered_gate),
    ]
}

/// What a caller sees of an answer, with a generated request id as `<generated>`.
#[derive(Debug, PartialEq)]
struct Seen {
    status: u16,
    content_type: Option<String>,
    request_id: Option<String>,
    retry_after: Option<String>,
    /// The problem document, or the body as text.
    body: String,
}

async fn seen(response: Response) -> Seen {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let status = response.status().as_u16();
    let content_type = header("content-type");
    let id = header("x-request-id");
    let retry_after = header("retry-after");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let mut body = String::from_utf8_lossy(&bytes).into_owned();
    let generated = id
        .as_deref()
        .is_some_and(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
    if content_type.as_deref() == Some("application/problem+json") {
        let mut problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        if let Some(member) = problem.get_mut("request_id") {
            assert_eq!(
                member.as_str(),
                id.as_deref(),
                "the problem names the echoed id"
            );
            if generated {
                *member = "<generated>".into();
            }
        }
        body = problem.to_string();
    }
    let request_id = if generated {
        Some("<generated>".to_owned())
    } else {
        id
    };
    Seen {
        status,
        content_type,
        request_id,
        retry_after,
        body,
    }
}

async fn send(stack: &Stack, request: Request<Body>) -> Seen {
    let Ok(response) = stack.clone().oneshot(request).await;
    seen(response).await
}

/// Sends the request `make` builds through both stacks; they must answer alike. Returns the
/// answer.
async fn same(case: &str, make: impl Fn() -> Request<Body>) -> Seen {
    let [(_, fused, _), (_, layered, _)] = stacks();
    let expected = send(&fused, make()).await;
    let got = send(&layered, make()).await;
    assert_eq!(
        got, expected,
        "{case}: layered (left) and fused (right) differ"
    );
    expected
}

fn get_with(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::empty()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn normal_requests_and_request_ids() {
    let ok = same("no id", || get_with("/", &[])).await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "ok"));
    assert_eq!(ok.request_id.as_deref(), Some("<generated>"));
    let kept = same("a sane id", || {
        get_with("/", &[("x-request-id", "caller-7")])
    })
    .await;
    assert_eq!(kept.request_id.as_deref(), Some("caller-7"));
    let replaced = same("an insane id", || {
        get_with("/", &[("x-request-id", "has space")])
    })
    .await;
    assert_eq!(replaced.request_id.as_deref(), Some("<generated>"));
    let long = "x".repeat(129);
    same("a too long id", || {
        get_with("/", &[("x-request-id", &long)])
    })
    .await;
    let missing = same("an unknown path", || get_with("/nowhere", &[])).await;
    assert_eq!(missing.status, 404);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_handler() {
    for id in [None, Some("caller-8"), Some("has space")] {
        let headers: Vec<_> = id.map(|id| ("x-request-id", id)).into_iter().collect();
        let answer = same(&format!("panic, id {id:?}"), || {
            get_with("/panic", &headers)
        })
        .await;
        assert_eq!(answer.status, 500);
        assert!(answer.body.contains("\"request_id\""), "{answer:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_handler_slower_than_the_request_timeout() {
    let answer = same("slow", || {
        get_with("/slow", &[("x-request-id", "caller-9")])
    })
    .await;
    assert_eq!(answer.status, 504);
    assert_eq!(answer.request_id.as_deref(), Some("caller-9"));
}

#[tokio::test(start_paused = true)]
async fn with_and_without_a_deadline() {
    let none = same("no deadline", || get_with("/deadline", &[])).await;
    assert_eq!(none.body, "current None, in the request None");
    let set = same("250 ms", || {
        get_with("/deadline", &[("x-request-timeout-ms", "250")])
    })
    .await;
    assert_eq!(set.body, "current Some(250ms), in the request Some(250ms)");
    let capped = same("above the request timeout", || {
        get_with("/deadline", &[("x-request-timeout-ms", "60000")])
    })
    .await;
    assert_eq!(capped.body, "current Some(1s), in the request Some(1s)");
    same("malformed", || {
        get_with("/deadline", &[("x-request-timeout-ms", "-5")])
    })
    .await;
    let spent = same("a deadline shorter than the handler", || {
        get_with("/slow", &[("x-request-timeout-ms", "100")])
    })
    .await;
    assert_eq!(spent.status, 504, "the request timeout still ends it");
}

#[tokio::test(start_paused = true)]
async fn bodies_within_and_over_the_limit() {
    let post = |body: Body, declared: Option<&str>| {
        let mut request = Request::post("/echo").header("content-type", "application/octet-stream");
        if let Some(len) = declared {
            request = request.header("content-length", len);
        }
        request.body(body).unwrap()
    };
    let fits = same("16 bytes", || {
        post(Body::from("0123456789abcdef"), Some("16"))
    })
    .await;
    assert_eq!((fits.status, fits.body.as_str()), (200, "0123456789abcdef"));
    let declared = same("declared too large", || {
        post(Body::from("0123456789abcdefg"), Some("17"))
    })
    .await;
    assert_eq!(declared.status, 413);
    let streamed = same("streamed too large", || {
        let chunks = futures_util::stream::iter(
            ["0123456789", "abcdefghij"]
                .map(|c| Ok::<_, Infallible>(Bytes::from_static(c.as_bytes()))),
        );
        post(Body::from_stream(chunks), None)
    })
    .await;
    assert_eq!(streamed.status, 413);
}

#[tokio::test(start_paused = true)]
async fn over_the_concurrency_limit() {
    let mut answers = Vec::new();
    for (name, stack, gate) in stacks() {
        // The only slot is held by a request waiting for its gate.
        let mut held = Box::pin(stack.clone().oneshot(get_with("/wait", &[])));
        assert!(
            (&mut held).now_or_never().is_none(),
            "{name}: the first request waits"
        );
        let mut shed = send(&stack, get_with("/", &[("x-request-id", "caller-10")])).await;
        // Drawn from 1 to 3 s at random by both, so shed callers spread out.
        let wait = shed.retry_after.take();
        assert!(
            wait.as_deref()
                .is_some_and(|w| ["1", "2", "3"].contains(&w)),
            "{name}: {wait:?}"
        );
        shed.retry_after = Some("1 to 3".to_owned());
        gate.notify_one();
        let Ok(released) = held.await;
        assert_eq!(released.status(), 200, "{name}");
        let after = send(&stack, get_with("/", &[])).await;
        assert_eq!(after.status, 200, "{name}: the slot is free again");
        answers.push(shed);
    }
    assert_eq!(
        answers[1], answers[0],
        "layered (left) and fused (right) differ"
    );
    assert_eq!(answers[0].status, 503);
    assert_eq!(answers[0].retry_after.as_deref(), Some("1 to 3"));
    assert_eq!(answers[0].request_id.as_deref(), Some("caller-10"));
}
