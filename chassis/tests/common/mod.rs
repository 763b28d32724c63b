//! Shared pieces of the behaviour tests: a test service and a small HTTP client.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

#[cfg(feature = "etcd")]
pub mod etcd;
pub mod live;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::response::sse::{Event, Sse};
use axum::routing::{self, post};
use chassis::service::{Context, Microservice, ServiceHandle};
use futures_util::stream::{self, Stream, StreamExt};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Notify;

/// A service with routes that exercise the server: slow, gated, panicking, streaming.
pub struct TestService;

static GATES: LazyLock<Mutex<HashMap<String, Arc<Notify>>>> = LazyLock::new(Default::default);

static FLAGS: LazyLock<Mutex<HashMap<String, Arc<AtomicBool>>>> = LazyLock::new(Default::default);
static HITS: LazyLock<Mutex<HashMap<String, Arc<AtomicUsize>>>> = LazyLock::new(Default::default);

/// A process-wide switch named `key` (`/flaky` fails while its instance's switch is on).
pub fn flag(key: &str) -> Arc<AtomicBool> {
    let mut flags = FLAGS.lock().unwrap();
    Arc::clone(flags.entry(key.to_owned()).or_default())
}

/// How many requests `/fail/{key}` received.
pub fn hits(key: &str) -> Arc<AtomicUsize> {
    let mut hits = HITS.lock().unwrap();
    Arc::clone(hits.entry(key.to_owned()).or_default())
}

/// The test service's own settings.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TestConfig {
    /// The switch that makes `/flaky` fail on this instance.
    pub fail_key: Option<String>,
    /// Whether `/maybe-hang` never answers on this instance.
    pub hang: bool,
}

/// A gate that `/gate/{key}` requests wait on until the test opens it.
pub fn gate(key: &str) -> Arc<Notify> {
    let mut gates = GATES.lock().unwrap();
    Arc::clone(gates.entry(key.to_owned()).or_default())
}

impl Microservice for TestService {
    type Config = TestConfig;
    const NAME: &'static str = "test-service";
    const VERSION: &'static str = "1.2.3";

    async fn router(ctx: Context<TestConfig>) -> Result<Router, tower::BoxError> {
        let shutdown = ctx.shutdown().clone();
        let me = ctx.identity().instance_id.clone();
        let whoami = me.clone();
        let fail = ctx.config().fail_key.clone().map(|key| flag(&key));
        let next = ctx.clone();
        let hang = ctx.config().hang;
        Ok(Router::new()
            .route(
                "/whoami",
                routing::get(move || std::future::ready(whoami.clone())),
            )
            .route(
                "/flaky",
                routing::get(move || {
                    let failing = fail.as_ref().is_some_and(|f| f.load(Ordering::SeqCst));
                    let me = me.clone();
                    async move {
                        if failing {
                            (StatusCode::INTERNAL_SERVER_ERROR, me)
                        } else {
                            (StatusCode::OK, me)
                        }
                    }
                }),
            )
            .route(
                "/work/{key}",
                routing::get(|Path(key): Path<String>| async move {
                    hits(&key).fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(40)).await;
                    "worked"
                }),
            )
            .route(
                "/maybe-hang",
                routing::get(move || async move {
                    if hang {
                        std::future::pending::<()>().await;
                    }
                    "answered"
                }),
            )
            .route(
                "/fail/{key}",
                routing::get(|Path(key): Path<String>| async move {
                    hits(&key).fetch_add(1, Ordering::SeqCst);
                    StatusCode::SERVICE_UNAVAILABLE
                }),
            )
            .route(
                "/hop/{*rest}",
                routing::get(move |Path(rest): Path<String>| {
                    let ctx = next.clone();
                    async move { hop(&ctx, &rest).await }
                }),
            )
            .route("/hello", routing::get(|| async { "hello" }))
            .route(
                "/slow/{ms}",
                routing::get(|Path(ms): Path<u64>| async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    format!("slept {ms}ms")
                }),
            )
            .route(
                "/gate/{key}",
                routing::get(|Path(key): Path<String>| async move {
                    hits(&key).fetch_add(1, Ordering::SeqCst);
                    gate(&key).notified().await;
                    "opened"
                }),
            )
            .route("/panic", routing::get(|| async { panic_on_purpose() }))
            .route("/echo", post(|body: Bytes| async move { body }))
            .route("/context", routing::get(context))
            .route(
                "/deadline",
                routing::get(|| async {
                    chassis::resilience::deadline::Deadline::current().map_or_else(
                        || "none".to_owned(),
                        |d| d.remaining().as_millis().to_string(),
                    )
                }),
            )
            .merge(answers_over_time(shutdown)))
    }
}

/// The request as the handler sees it after the stack: its trace context, request id,
/// caller link and the hint headers that reached it.
async fn context(request: Request<Body>) -> axum::Json<serde_json::Value> {
    use chassis::telemetry::propagation::TraceContext;
    let ctx = TraceContext::current();
    let text =
        |value: Option<&http::HeaderValue>| value.and_then(|v| v.to_str().ok()).map(str::to_owned);
    let header = |name: &str| text(request.headers().get(name));
    let caller = request
        .extensions()
        .get::<chassis::telemetry::propagation::CallerLink>()
        .map(|link| link.0.to_string());
    axum::Json(serde_json::json!({
        "trace_id": ctx.as_ref().map(|c| c.trace_id().to_string()),
        "parent_id": ctx.as_ref().and_then(TraceContext::parent_id).map(|p| p.to_string()),
        "sampled": ctx.as_ref().map(|c| c.flags().is_sampled()),
        "baggage": ctx.as_ref().and_then(|c| text(c.baggage())),
        "tracestate": ctx.as_ref().and_then(|c| text(c.tracestate())),
        "request_id": header("x-request-id"),
        "deadline_header": header("x-request-timeout-ms"),
        "caller_link": caller,
    }))
}

/// Routes whose answers take time to send: streamed, paused, large.
fn answers_over_time(shutdown: chassis::shutdown::Shutdown) -> Router {
    Router::new()
        .route("/sse", routing::get(|| async { Sse::new(ticks()) }))
        .route(
            "/sse-graceful",
            routing::get(move || {
                let shutdown = shutdown.clone();
                async move {
                    let ticks = ticks().take_until(async move { shutdown.draining().await });
                    Sse::new(ticks)
                }
            }),
        )
        .route(
            "/pause/{ms}",
            routing::get(|Path(ms): Path<u64>| async move { Body::from_stream(pausing(ms)) }),
        )
        .route(
            "/big/{mib}",
            routing::get(|Path(mib): Path<usize>| async move { vec![b'x'; mib << 20] }),
        )
}

/// Calls service `next` at `/{rest}` through the resilient client and relays the answer.
async fn hop(ctx: &Context<TestConfig>, rest: &str) -> (StatusCode, String) {
    let client = match ctx.client("next") {
        Ok(client) => client,
        Err(error) => return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    };
    let route = chassis::client::Route::new("/{*rest}").param("rest", rest);
    match client.get(route).send().await {
        Ok(reply) => {
            let status = reply.status();
            let body = reply
                .into_response()
                .into_body()
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes);
            (
                status,
                String::from_utf8_lossy(&body.unwrap_or_default()).into_owned(),
            )
        }
        Err(error) if error.is_timeout() => (StatusCode::GATEWAY_TIMEOUT, error.to_string()),
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()),
    }
}

fn panic_on_purpose() -> &'static str {
    panic!("handler panicked on purpose")
}

/// `before `, then nothing for `ms`, then `after`.
fn pausing(ms: u64) -> impl Stream<Item = Result<Bytes, Infallible>> {
    stream::unfold(0u8, move |part| async move {
        match part {
            0 => Some((Ok(Bytes::from_static(b"before ")), 1)),
            1 => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Some((Ok(Bytes::from_static(b"after")), 2))
            }
            _ => None,
        }
    })
}

fn ticks() -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(0u64, |n| async move {
        if n > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Some((Ok(Event::default().data(n.to_string())), n + 1))
    })
}

/// Spawns the test service on ephemeral ports with `overrides`.
pub async fn spawn(overrides: &[(&str, &str)]) -> ServiceHandle {
    let mut all = vec![
        ("server.host", "127.0.0.1"),
        ("server.port", "0"),
        ("shutdown.drain_delay", "0s"),
        ("telemetry.log.level", "warn"),
    ];
    all.extend_from_slice(overrides);
    chassis::service::spawn::<TestService>(all.iter().copied())
        .await
        .expect("test service starts")
}

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("json body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn send(client: &HttpClient, request: Request<Full<Bytes>>) -> Result<Reply, String> {
    let response: Response<_> = client
        .request(request)
        .await
        .map_err(|e| format!("{e:?}"))?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("{e:?}"))?
        .to_bytes();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    let request = Request::get(format!("http://{addr}{path}"))
        .body(Full::default())
        .unwrap();
    send(&client(), request).await.expect("request succeeds")
}

/// Polls `probe` until it returns true, failing after `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if probe().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn body(text: &str) -> Full<Bytes> {
    Full::new(Bytes::copy_from_slice(text.as_bytes()))
}

pub fn empty() -> Body {
    Body::empty()
}
