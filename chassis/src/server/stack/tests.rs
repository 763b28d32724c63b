//! The fused stack's own paths, each against a small inner service.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use http::{Request, StatusCode};
use tokio::sync::Notify;
use tower::{BoxError, Service, ServiceExt};

use super::StandardStack;
use crate::config::{ByteSize, ServerConfig};

type Answer = Pin<Box<dyn Future<Output = Result<Response, BoxError>> + Send>>;

/// A handler: panics in `call` on `/panic-in-call`, waits for `gate` on `/wait`, answers
/// `ok` otherwise; its first readiness check fails when `fail_ready` is set.
#[derive(Clone)]
struct Handler {
    gate: Arc<Notify>,
    fail_ready: Arc<AtomicBool>,
}

impl Service<Request<Body>> for Handler {
    type Response = Response;
    type Error = BoxError;
    type Future = Answer;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        if self.fail_ready.swap(false, Ordering::SeqCst) {
            return Poll::Ready(Err("not ready".into()));
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Answer {
        let gate = Arc::clone(&self.gate);
        match request.uri().path() {
            "/panic-in-call" => panic!("panicked in call"),
            "/wait" => Box::pin(async move {
                gate.notified().await;
                Ok(Response::new(Body::from("waited")))
            }),
            _ => Box::pin(async { Ok::<_, BoxError>(Response::new(Body::from("ok"))) }),
        }
    }
}

fn stack() -> (StandardStack<Handler>, Handler) {
    let config = ServerConfig {
        max_concurrent_requests: 1,
        max_body_size: ByteSize(8),
        ..ServerConfig::default()
    };
    let handler = Handler {
        gate: Arc::new(Notify::new()),
        fail_ready: Arc::new(AtomicBool::new(false)),
    };
    (StandardStack::around(&config, handler.clone()), handler)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap_or_default()
}

async fn send(stack: &StandardStack<Handler>, request: Request<Body>) -> Response {
    let Ok(response) = stack.clone().oneshot(request).await;
    response
}

fn id_of(response: &Response) -> &str {
    response.headers()["x-request-id"]
        .to_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_panic_in_call_is_a_500_with_the_id_and_frees_the_slot() {
    let (stack, _) = stack();
    let response = send(&stack, get("/panic-in-call")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(id_of(&response).len(), 32);
    // The only slot is free again.
    assert_eq!(send(&stack, get("/")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_readiness_error_is_answered_by_the_next_call() {
    let (stack, handler) = stack();
    handler.fail_ready.store(true, Ordering::SeqCst);
    let response = send(&stack, get("/")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(id_of(&response).len(), 32);
    assert_eq!(send(&stack, get("/")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn over_the_limit_is_shed_with_the_id_until_the_slot_frees() {
    let (stack, handler) = stack();
    let held = tokio::spawn(send_owned(stack.clone(), get("/wait")));
    // Until the held request has its slot, a second one may still pass; poll for the shed.
    let mut shed = None;
    for _ in 0..1_000 {
        let response = send(&stack, get("/")).await;
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            shed = Some(response);
            break;
        }
        tokio::task::yield_now().await;
    }
    let shed = shed.unwrap_or_else(|| panic!("never shed while the slot was held"));
    let wait = shed.headers()["retry-after"].to_str().expect("ascii");
    assert!(["1", "2", "3"].contains(&wait), "{wait}");
    assert_eq!(id_of(&shed).len(), 32);
    handler.gate.notify_one();
    assert_eq!(held.await.map(|r| r.status()).ok(), Some(StatusCode::OK));
    assert_eq!(send(&stack, get("/")).await.status(), StatusCode::OK);
}

async fn send_owned(stack: StandardStack<Handler>, request: Request<Body>) -> Response {
    let Ok(response) = stack.oneshot(request).await;
    response
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_413_with_the_id_and_frees_the_slot() {
    let (stack, _) = stack();
    let request = Request::post("/")
        .header("content-length", "9")
        .header("x-request-id", "caller-1")
        .body(Body::from("123456789"))
        .unwrap_or_default();
    let response = send(&stack, request).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(id_of(&response), "caller-1");
    assert_eq!(send(&stack, get("/")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_insane_id_is_replaced_and_the_replacement_echoed() {
    let (stack, _) = stack();
    let request = Request::get("/")
        .header("x-request-id", "has space")
        .body(Body::empty())
        .unwrap_or_default();
    let response = send(&stack, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(id_of(&response).len(), 32);
}

#[tokio::test(start_paused = true)]
async fn a_slow_handler_gets_504_after_the_timeout_and_frees_the_slot() {
    let (stack, _) = stack();
    let response = send(&stack, get("/wait")).await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(id_of(&response).len(), 32);
    assert_eq!(send(&stack, get("/")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn once_shutdown_begins_http1_answers_say_connection_close() {
    let (stack, _) = stack();
    let shutdown = crate::shutdown::Shutdown::new();
    let stack = stack.close_on_shutdown(shutdown.clone());
    let close = |response: &Response| response.headers().get("connection").cloned();
    assert_eq!(close(&send(&stack, get("/")).await), None);
    shutdown.trigger();
    let ok = send(&stack, get("/")).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(close(&ok).is_some_and(|value| value == "close"));
    // Answers the stack gives itself carry it too (a declared body over the limit here).
    let refused = Request::post("/")
        .header("content-length", "9")
        .body(Body::from("123456789"))
        .unwrap_or_default();
    let refused = send(&stack, refused).await;
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(close(&refused).is_some());
    // HTTP/2 has no `Connection` header: its connections are told with GOAWAY.
    let mut h2 = get("/");
    *h2.version_mut() = http::Version::HTTP_2;
    assert_eq!(close(&send(&stack, h2).await), None);
}
