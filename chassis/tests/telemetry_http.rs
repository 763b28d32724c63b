//! The server telemetry layer on a real axum router: labels, cardinality, the active gauge,
//! JSON logs with trace ids, outbound propagation and the log-level admin route.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::routing::get;
use chassis::telemetry::http::ServerTelemetryLayer;
use chassis::telemetry::propagation::{PropagateLayer, TraceContext};
use chassis::telemetry::{AccessLog, LogFormat, TelemetryConfig, admin_routes, logs};
use http::{Method, Request, StatusCode};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tower::{Layer, ServiceExt};
use tracing_subscriber::fmt::MakeWriter;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn app() -> Router {
    Router::new()
        .route("/items/{id}", get(|| async { "item" }))
        .layer(ServerTelemetryLayer::new().access_log(AccessLog::Info))
}

fn request(method: Method, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("valid request")
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, String) {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let body = to_bytes(res.into_body(), 1 << 20).await.expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

type Labels = BTreeMap<String, String>;

/// Histogram series of the duration metric: labels -> number of observations.
fn durations(snapshotter: &Snapshotter) -> BTreeMap<Labels, usize> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == "http_server_request_duration_seconds")
        .filter_map(|(key, _, _, value)| match value {
            DebugValue::Histogram(values) => Some((labels(key.key()), values.len())),
            _ => None,
        })
        .collect()
}

fn labels(key: &metrics::Key) -> Labels {
    key.labels()
        .map(|l| (l.key().to_owned(), l.value().to_owned()))
        .collect()
}

fn series(method: &str, route: &str, status: &str) -> Labels {
    [
        ("http_request_method", method),
        ("http_route", route),
        ("http_response_status_code", status),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[tokio::test]
async fn route_template_is_the_label() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = app();

    for id in 1..=3 {
        let (status, _) = send(&app, request(Method::GET, &format!("/items/{id}"))).await;
        assert_eq!(status, StatusCode::OK);
    }

    let seen = durations(&snapshotter);
    assert_eq!(
        seen.get(&series("GET", "/items/{id}", "200")),
        Some(&3),
        "{seen:?}"
    );
    assert_eq!(seen.len(), 1, "{seen:?}");
}

#[tokio::test]
async fn unknown_method_collapses_to_other() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = app();

    let purge = Method::from_bytes(b"PURGE").expect("token");
    let (status, _) = send(&app, request(purge, "/items/1")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _) = send(&app, request(Method::DELETE, "/items/1")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    let seen = durations(&snapshotter);
    assert_eq!(
        seen.get(&series("_OTHER", "/items/{id}", "405")),
        Some(&1),
        "{seen:?}"
    );
    assert_eq!(
        seen.get(&series("DELETE", "/items/{id}", "405")),
        Some(&1),
        "{seen:?}"
    );
}

#[tokio::test]
async fn unknown_paths_add_at_most_one_label_value() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = app();
    send(&app, request(Method::GET, "/items/1")).await;

    for i in 0..1_000 {
        let (status, _) = send(&app, request(Method::GET, &format!("/nope/{i}/x{i}"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    let seen = durations(&snapshotter);
    let routes: BTreeSet<&str> = seen.keys().map(|l| l["http_route"].as_str()).collect();
    assert_eq!(routes, BTreeSet::from(["/items/{id}", "unmatched"]));
    assert_eq!(seen.get(&series("GET", "unmatched", "404")), Some(&1_000));
}

#[tokio::test]
async fn around_the_whole_router_every_request_is_unmatched() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    // Wrong placement (before routing): still bounded, but no route templates.
    let app = ServerTelemetryLayer::new()
        .layer(Router::new().route("/items/{id}", get(|| async { "item" })));
    for id in 0..10 {
        let res = app
            .clone()
            .oneshot(request(Method::GET, &format!("/items/{id}")))
            .await
            .expect("infallible");
        assert_eq!(res.status(), StatusCode::OK);
    }
    let seen = durations(&snapshotter);
    assert_eq!(
        seen.get(&series("GET", "unmatched", "200")),
        Some(&10),
        "{seen:?}"
    );
    assert_eq!(seen.len(), 1);
}

/// A `GET` route that answers "slow" once `release` is sent (or dropped).
fn slow_route() -> (
    tokio::sync::oneshot::Sender<()>,
    axum::routing::MethodRouter,
) {
    let (release, wait) = tokio::sync::oneshot::channel::<()>();
    let wait = Arc::new(Mutex::new(Some(wait)));
    let route = get(move || {
        let wait = wait.lock().unwrap_or_else(PoisonError::into_inner).take();
        async move {
            if let Some(wait) = wait {
                let _ = wait.await;
            }
            "slow"
        }
    });
    (release, route)
}

#[tokio::test]
async fn active_requests_gauge_returns_to_zero() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (release, slow) = slow_route();
    let app = Router::new()
        .route("/items/{id}", get(|| async { "item" }))
        .route("/slow", slow)
        .layer(ServerTelemetryLayer::new());

    for _ in 0..5 {
        send(&app, request(Method::GET, "/items/1")).await;
    }
    // A request cancelled mid-flight (client gone) must not leak an active request.
    let mut cancelled = Box::pin(app.clone().oneshot(request(Method::GET, "/slow")));
    assert!(futures_poll_once(cancelled.as_mut()).await.is_none());
    drop(cancelled);
    drop(release);

    let gauge = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find(|(key, ..)| key.key().name() == "http_server_active_requests")
        .map(|(key, _, _, value)| (labels(key.key()), value));
    let Some((labels, DebugValue::Gauge(value))) = gauge else {
        panic!("no active-requests gauge: {gauge:?}");
    };
    assert_eq!(
        labels.get("http_request_method").map(String::as_str),
        Some("GET")
    );
    assert!(value.0.abs() < f64::EPSILON, "gauge is {value}");
}

/// Polls a future once, returning its output if it completed.
async fn futures_poll_once<F: std::future::Future + Unpin>(mut fut: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut fut).poll(cx) {
            std::task::Poll::Ready(out) => Some(out),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

#[tokio::test]
async fn active_requests_gauge_counts_in_flight() {
    let recorder = chassis::telemetry::metrics::prometheus_builder()
        .expect("builder")
        .build_recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (release, slow) = slow_route();
    let app = Router::new()
        .route("/slow", slow)
        .layer(ServerTelemetryLayer::new());

    let mut in_flight = Box::pin(app.clone().oneshot(request(Method::GET, "/slow")));
    assert!(futures_poll_once(in_flight.as_mut()).await.is_none());
    assert!(
        handle
            .render()
            .contains("http_server_active_requests{http_request_method=\"GET\"} 1"),
        "{}",
        handle.render()
    );
    release.send(()).expect("waiting");
    let res = in_flight.await.expect("infallible");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        handle
            .render()
            .contains("http_server_active_requests{http_request_method=\"GET\"} 0"),
        "{}",
        handle.render()
    );
}

#[tokio::test]
async fn handler_sees_the_context_and_outbound_calls_carry_it() {
    let app = Router::new()
        .route(
            "/call",
            get(|ctx: TraceContext| async move {
                let client =
                    PropagateLayer::new().layer(tower::service_fn(|req: Request<()>| async move {
                        Ok::<_, Infallible>(req.headers().clone())
                    }));
                let sent = client.oneshot(Request::new(())).await.expect("infallible");
                let current = TraceContext::current().map(|c| c.span_id());
                assert_eq!(current, Some(ctx.span_id()), "task-local equals extension");
                format!(
                    "{} {} {}",
                    ctx.span_id(),
                    sent["traceparent"].to_str().unwrap_or_default(),
                    sent["x-request-id"].to_str().unwrap_or_default(),
                )
            }),
        )
        .layer(ServerTelemetryLayer::new());

    let mut req = request(Method::GET, "/call");
    req.headers_mut()
        .insert("traceparent", TRACEPARENT.parse().expect("valid"));
    req.headers_mut()
        .insert("x-request-id", "req-7".parse().expect("valid"));
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    let parts: Vec<&str> = body.split(' ').collect();
    assert_eq!(parts[1], format!("00-{TRACE_ID}-{}-01", parts[0]));
    assert_eq!(parts[2], "req-7");
}

#[tokio::test]
async fn malformed_traceparent_starts_a_new_trace() {
    let app = Router::new()
        .route(
            "/ctx",
            get(|ctx: TraceContext| async move {
                format!("{} {}", ctx.trace_id(), ctx.parent_id().is_some())
            }),
        )
        .layer(ServerTelemetryLayer::new());
    let mut req = request(Method::GET, "/ctx");
    req.headers_mut().insert(
        "traceparent",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"
            .parse()
            .expect("valid"),
    );
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    let (trace, has_parent) = body.split_once(' ').expect("two fields");
    assert_eq!(trace.len(), 32);
    assert_ne!(trace, TRACE_ID);
    assert_eq!(has_parent, "false");
}

/// Serialises the tests that create `tracing` subscribers: callsite interest is cached
/// process-wide, and scoped subscribers created concurrently on other threads disturb it.
static SUBSCRIBERS: Mutex<()> = Mutex::new(());

fn one_subscriber_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SUBSCRIBERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn json_log_lines_of_a_request_carry_its_trace_id() {
    let _serial = one_subscriber_at_a_time();
    let buffer = Buffer::default();
    let mut cfg = TelemetryConfig::default();
    cfg.log.format = LogFormat::Json;
    let (subscriber, _handle) = logs::subscriber(&cfg, None, buffer.clone()).expect("subscriber");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let span_id = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let app = Router::new()
                .route(
                    "/items/{id}",
                    get(|ctx: TraceContext| async move {
                        tracing::info!(item = 1, "fetching item");
                        tracing::info_span!("lookup", table = "items")
                            .in_scope(|| tracing::info!("nested"));
                        ctx.span_id().to_string()
                    }),
                )
                .layer(ServerTelemetryLayer::new().access_log(AccessLog::Info));
            let mut req = request(Method::GET, "/items/1");
            req.headers_mut()
                .insert("traceparent", TRACEPARENT.parse().expect("valid"));
            req.headers_mut()
                .insert("x-request-id", "req-42".parse().expect("valid"));
            send(&app, req).await.1
        })
    });

    let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert!(lines.len() >= 2, "handler line and access line: {text}");
    for line in &lines {
        assert_eq!(line["trace_id"], TRACE_ID, "{line}");
        assert_eq!(line["span_id"], span_id.as_str(), "{line}");
    }
    let nested = lines
        .iter()
        .find(|l| l["message"] == "nested")
        .expect("nested line");
    assert_eq!(
        nested["span"]["name"], "lookup",
        "current span is the nested one"
    );
    let handler = lines
        .iter()
        .find(|l| l["message"] == "fetching item")
        .expect("handler line");
    assert_eq!(handler["request_id"], "req-42");
    assert!(
        handler.get("span").is_none(),
        "no request span without trace export: {handler}"
    );
    let access = lines
        .iter()
        .find(|l| l["target"] == "chassis::access")
        .expect("access line");
    assert_eq!(access["route"], "/items/{id}");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["status"], 200);
    assert!(access["duration_ms"].as_f64().is_some(), "{access}");
    // The ids come from the request's context; the OpenTelemetry HTTP attributes are
    // checked on exported spans (tests/otlp.rs).
    assert_eq!(access["request_id"], "req-42");
}

/// The text lines logged while `service` serves one `GET /items/1` with these headers.
fn pretty_lines<S>(service: S, headers: &[(&'static str, &'static str)]) -> String
where
    S: tower::Service<Request<Body>, Error = Infallible>,
{
    let buffer = Buffer::default();
    let (subscriber, _handle) =
        logs::subscriber(&TelemetryConfig::default(), None, buffer.clone()).expect("subscriber");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let mut req = request(Method::GET, "/items/1");
            for (name, value) in headers {
                req.headers_mut()
                    .insert(*name, value.parse().expect("valid"));
            }
            let Ok(_response) = service.oneshot(req).await;
        });
    });
    String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8")
}

/// The first line of `text` containing `needle`.
fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in {text}"))
}

#[test]
fn pretty_log_lines_carry_the_trace_id_too() {
    let _serial = one_subscriber_at_a_time();
    let text = pretty_lines(
        app(),
        &[("traceparent", TRACEPARENT), ("x-request-id", "req-7")],
    );
    let access = line_with(&text, "request completed");
    assert!(access.contains(&format!("trace_id={TRACE_ID}")), "{access}");
    assert!(access.contains("request_id=req-7"), "{access}");
    assert!(access.contains("route=\"/items/{id}\""), "{access}");
}

#[test]
fn a_request_id_with_spaces_cannot_forge_fields() {
    let _serial = one_subscriber_at_a_time();
    let text = pretty_lines(app(), &[("x-request-id", "x trace_id=forged")]);
    let access = line_with(&text, "request completed");
    assert!(
        access.ends_with("request_id=\"x trace_id=forged\""),
        "{access}"
    );
}

#[test]
fn a_line_logged_while_the_request_is_called_carries_the_ids() {
    let _serial = one_subscriber_at_a_time();
    // The layer straight around a service that logs in `call`, before any future is polled.
    let logs_in_call = tower::service_fn(|_req: Request<Body>| {
        tracing::info!("routing by hand");
        std::future::ready(Ok::<_, Infallible>(axum::response::Response::new(
            Body::empty(),
        )))
    });
    let service = ServerTelemetryLayer::new().layer(logs_in_call);
    let text = pretty_lines(service, &[("traceparent", TRACEPARENT)]);
    let line = line_with(&text, "routing by hand");
    assert!(line.contains(&format!("trace_id={TRACE_ID}")), "{line}");
}

#[tokio::test]
#[allow(
    clippy::await_holding_lock,
    reason = "each test owns its runtime; the lock only orders tests"
)]
async fn access_log_can_be_turned_off() {
    let _serial = one_subscriber_at_a_time();
    let buffer = Buffer::default();
    let mut cfg = TelemetryConfig::default();
    cfg.log.format = LogFormat::Json;
    cfg.log.access = AccessLog::Off;
    let (subscriber, _handle) = logs::subscriber(&cfg, None, buffer.clone()).expect("subscriber");
    let _default = tracing::subscriber::set_default(subscriber);
    let app = Router::new()
        .route("/items/{id}", get(|| async { "item" }))
        .layer(ServerTelemetryLayer::from_config(&cfg));
    let (status, _) = send(&app, request(Method::GET, "/items/1")).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
    assert!(!text.contains("request completed"), "{text}");
}

#[tokio::test]
#[allow(
    clippy::await_holding_lock,
    reason = "each test owns its runtime; the lock only orders tests"
)]
async fn log_level_changes_through_the_admin_route() {
    let _serial = one_subscriber_at_a_time();
    let (_subscriber, handle) =
        logs::subscriber(&TelemetryConfig::default(), None, io::sink).expect("subscriber");
    let admin = admin_routes(handle.clone());

    let (status, body) = send(&admin, request(Method::GET, "/admin/log-level")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "info"));

    let put = |body: &'static str| {
        Request::builder()
            .method(Method::PUT)
            .uri("/admin/log-level")
            .body(Body::from(body))
            .expect("valid request")
    };
    let (status, body) = send(&admin, put("debug,hyper=warn")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("debug") && body.contains("hyper=warn"),
        "{body}"
    );
    assert!(handle.current_level().contains("hyper=warn"));

    let res = admin
        .clone()
        .oneshot(put("info,[["))
        .await
        .expect("infallible");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value =
        serde_json::from_slice(&to_bytes(res.into_body(), 1 << 16).await.expect("body"))
            .expect("json");
    assert_eq!(problem["status"], 400);
    assert!(handle.current_level().contains("hyper=warn"), "unchanged");
}

/// A log output that has stalled (a full pipe, a stuck collector): a write waits until
/// `open`, after saying that it started.
#[derive(Clone)]
struct Stalled {
    out: Buffer,
    open: Arc<(Mutex<bool>, std::sync::Condvar)>,
    entered: std::sync::mpsc::SyncSender<()>,
}

impl Stalled {
    fn new() -> (Self, std::sync::mpsc::Receiver<()>) {
        let (entered, started) = std::sync::mpsc::sync_channel(1024);
        let sink = Self {
            out: Buffer::default(),
            open: Arc::default(),
            entered,
        };
        (sink, started)
    }

    fn open(&self) {
        let (open, condvar) = &*self.open;
        *open.lock().unwrap_or_else(PoisonError::into_inner) = true;
        condvar.notify_all();
    }
}

impl io::Write for Stalled {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = self.entered.try_send(());
        let (open, condvar) = &*self.open;
        let open = open.lock().unwrap_or_else(PoisonError::into_inner);
        drop(
            condvar
                .wait_while(open, |open| !*open)
                .unwrap_or_else(PoisonError::into_inner),
        );
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Far longer than any working run takes; reached only when requests wait for the sink.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

#[test]
fn requests_complete_while_the_log_output_is_stalled() {
    const REQUESTS: usize = 500;
    let _serial = one_subscriber_at_a_time();
    let (sink, entered) = Stalled::new();
    let writer = logs::NonBlocking::with_capacity(sink.clone(), 16 * 1024);
    let mut cfg = TelemetryConfig::default();
    cfg.log.format = LogFormat::Json;
    let (subscriber, _handle) = logs::subscriber(&cfg, None, writer.clone()).expect("subscriber");
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("before the requests");
            // The writer thread has taken that line and is stuck writing it.
            entered
                .recv_timeout(PATIENCE)
                .expect("the sink took a write");
            let statuses = runtime.block_on(async {
                let app = app();
                let mut statuses = Vec::new();
                for _ in 0..REQUESTS {
                    statuses.push(send(&app, request(Method::GET, "/items/1")).await.0);
                }
                statuses
            });
            let _ = done.send(statuses);
        });
    });
    let statuses = finished
        .recv_timeout(PATIENCE)
        .expect("every request completed while the log output was stalled");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK));

    sink.open();
    writer
        .flush(PATIENCE)
        .expect("written once the output moves");
    let text = String::from_utf8(sink.out.0.lock().expect("buffer").clone()).expect("utf-8");
    let access = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("whole JSON lines"))
        .filter(|l| l["target"] == "chassis::access")
        .count();
    // The queue (16 KiB) took what it could; the other lines were dropped and counted.
    assert!(access > 0, "{text}");
    assert_eq!(
        u64::try_from(access).expect("small") + writer.dropped_lines(),
        u64::try_from(REQUESTS).expect("small")
    );
}
