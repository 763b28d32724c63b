//! OTLP trace export against receivers running in the test: a tonic gRPC `TraceService` and
//! an axum `POST /v1/traces` decoding protobuf with prost.
//!
//! Every service here exports (the first `init_logging` of the process decides that the
//! global subscriber has the OpenTelemetry layer), each to its own receiver, so the tests
//! may run in parallel: spans are routed to the provider of the service that served them.
#![cfg(feature = "otlp")]
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::routing::{get, post};
use chassis::service::{Context, Microservice, ServiceHandle};
use chassis::telemetry::propagation::{PropagateLayer, TraceParent};
use http::{HeaderValue, Request, StatusCode};
use http_body_util::Full;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::{Layer, ServiceExt};

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";
const WITHIN: Duration = Duration::from_secs(20);

/// A service whose `/outbound` answers the `traceparent` its outbound calls would carry.
struct Traced;

impl Microservice for Traced {
    type Config = ();
    const NAME: &'static str = "traced";
    const VERSION: &'static str = "0.9.1";

    async fn router(ctx: Context<()>) -> Result<Router, tower::BoxError> {
        Ok(Router::new()
            .route("/items/{id}", get(|| async { "item" }))
            .route("/record/{key}", get(record))
            .route("/fanout/{run}", get(move |path| fanout(ctx.clone(), path)))
            .route("/outbound", get(outbound))
            .route(
                "/nested",
                get(|| async {
                    // WARN so that the test's log filter lets it through.
                    tracing::warn_span!("load item")
                        .in_scope(|| tracing::warn_span!("parse item").in_scope(|| "nested"))
                }),
            )
            .route(
                "/broken",
                get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
            ))
    }
}

/// The `traceparent` each call of a run to `/record` carried, by key.
static RECORDED: std::sync::LazyLock<Mutex<Vec<(String, String)>>> =
    std::sync::LazyLock::new(Mutex::default);

/// Records the caller's `traceparent`; a key starting with `retry` fails its first call
/// with 503 (a retryable answer).
async fn record(
    axum::extract::Path(key): axum::extract::Path<String>,
    headers: http::HeaderMap,
) -> StatusCode {
    let traceparent = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut recorded = RECORDED.lock().unwrap();
    let seen_before = recorded.iter().any(|(k, _)| *k == key);
    recorded.push((key.clone(), traceparent));
    if key.starts_with("retry") && !seen_before {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

/// Three calls to the `down` service from one request, the third retried once.
async fn fanout(
    ctx: Context<()>,
    axum::extract::Path(run): axum::extract::Path<String>,
) -> StatusCode {
    let Ok(down) = ctx.client("down") else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    for key in ["a", "b", "retry-c"] {
        let route =
            chassis::client::Route::new("/record/{key}").param("key", format!("{key}-{run}"));
        match down.get(route).send().await {
            Ok(reply) if reply.status().is_success() => {}
            _ => return StatusCode::BAD_GATEWAY,
        }
    }
    StatusCode::OK
}

async fn outbound() -> String {
    let client = PropagateLayer::new().layer(tower::service_fn(|req: Request<()>| async move {
        Ok::<_, Infallible>(req.headers().get("traceparent").cloned())
    }));
    let sent = client.oneshot(Request::new(())).await.unwrap();
    sent.and_then(|v| v.to_str().ok().map(str::to_owned))
        .unwrap_or_default()
}

/// What a receiver got: one entry per span, with its resource's attributes.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

/// A span as received, with the attributes of its resource.
#[derive(Clone, Debug)]
struct Got {
    resource: Vec<KeyValue>,
    span: Span,
}

impl Received {
    fn push(&self, request: ExportTraceServiceRequest) {
        self.0.lock().unwrap().push(request);
    }

    fn spans(&self) -> Vec<Got> {
        let requests = self.0.lock().unwrap();
        let mut out = Vec::new();
        for request in requests.iter() {
            for rs in &request.resource_spans {
                let resource = rs
                    .resource
                    .as_ref()
                    .map(|r| r.attributes.clone())
                    .unwrap_or_default();
                for ss in &rs.scope_spans {
                    for span in &ss.spans {
                        out.push(Got {
                            resource: resource.clone(),
                            span: span.clone(),
                        });
                    }
                }
            }
        }
        out
    }

    fn find(&self, pred: impl Fn(&Got) -> bool) -> Option<Got> {
        self.spans().into_iter().find(|g| pred(g))
    }

    async fn wait_for(&self, what: &str, pred: impl Fn(&Got) -> bool) -> Got {
        let deadline = tokio::time::Instant::now() + WITHIN;
        loop {
            if let Some(found) = self.find(&pred) {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; received {:#?}",
                self.spans()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// An OTLP/gRPC receiver on 127.0.0.1; stops when the token is cancelled.
async fn grpc_receiver(stop: CancellationToken) -> (Received, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Received::default();
    let service = TraceServiceServer::new(received.clone());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                stop.cancelled_owned(),
            ),
    );
    (received, addr)
}

/// An OTLP/HTTP receiver: `POST /v1/traces` with a protobuf body.
async fn http_receiver(stop: CancellationToken) -> (Received, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Received::default();
    let sink = received.clone();
    let app = Router::new().route(
        "/v1/traces",
        post(move |headers: http::HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                assert_eq!(headers["content-type"], "application/x-protobuf");
                let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                    return (StatusCode::BAD_REQUEST, Vec::new());
                };
                sink.push(request);
                (
                    StatusCode::OK,
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
            }
        }),
    );
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
    });
    (received, addr)
}

/// Overrides shared by every service of this binary.
fn overrides<'a>(endpoint: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("server.host", "127.0.0.1"),
        ("server.port", "0"),
        ("shutdown.drain_delay", "0s"),
        // The request and call spans do not go through the log filter: `warn` keeps them.
        ("telemetry.log.level", "warn"),
        ("telemetry.log.access", "off"),
        ("telemetry.environment", "test"),
        ("telemetry.otlp.endpoint", endpoint),
    ];
    all.extend_from_slice(extra);
    all
}

async fn spawn_traced(endpoint: &str, extra: &[(&str, &str)]) -> ServiceHandle {
    chassis::service::spawn::<Traced>(overrides(endpoint, extra))
        .await
        .expect("service starts")
}

async fn get_with(addr: SocketAddr, path: &str, traceparent: Option<&str>) -> common::Reply {
    let mut request = Request::get(format!("http://{addr}{path}"));
    if let Some(tp) = traceparent {
        request = request.header("traceparent", HeaderValue::from_str(tp).unwrap());
    }
    let request = request.body(Full::default()).unwrap();
    common::send(&common::client(), request)
        .await
        .expect("request succeeds")
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

fn str_attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attr(attributes, key) {
        Some(any_value::Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn int_attr(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attr(attributes, key) {
        Some(any_value::Value::IntValue(i)) => Some(*i),
        _ => None,
    }
}

fn of_trace(trace: &str) -> impl Fn(&Got) -> bool + '_ {
    move |g| hex(&g.span.trace_id) == trace
}

#[tokio::test]
async fn grpc_exports_the_server_span_with_resource_attributes_and_remote_parent() {
    let stop = CancellationToken::new();
    let (received, collector) = grpc_receiver(stop.clone()).await;
    let endpoint = format!("http://{collector}");
    let handle = spawn_traced(&endpoint, &[("telemetry.otlp.batch_delay", "50ms")]).await;
    let instance = handle.identity().instance_id.clone();

    let reply = get_with(handle.addr(), "/items/7", Some(TP)).await;
    assert_eq!(reply.status, StatusCode::OK);
    // Exported while the service runs (batch delay 50ms), not only at shutdown.
    let got = received
        .wait_for("the /items/7 span", of_trace(TRACE))
        .await;

    assert_eq!(
        str_attr(&got.resource, "service.name").as_deref(),
        Some("traced")
    );
    assert_eq!(
        str_attr(&got.resource, "service.version").as_deref(),
        Some("0.9.1")
    );
    assert_eq!(
        str_attr(&got.resource, "service.instance.id"),
        Some(instance)
    );
    assert_eq!(
        str_attr(&got.resource, "deployment.environment").as_deref(),
        Some("test")
    );

    let span = &got.span;
    assert_eq!(span.name, "GET /items/{id}");
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(hex(&span.parent_span_id), PARENT, "parent from traceparent");
    assert_eq!(span.span_id.len(), 8);
    assert_ne!(hex(&span.span_id), PARENT);
    let attributes = &span.attributes;
    assert_eq!(
        str_attr(attributes, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        str_attr(attributes, "http.route").as_deref(),
        Some("/items/{id}")
    );
    assert_eq!(
        str_attr(attributes, "url.path").as_deref(),
        Some("/items/7")
    );
    assert_eq!(int_attr(attributes, "http.response.status_code"), Some(200));
    assert_eq!(str_attr(attributes, "url.scheme").as_deref(), Some("http"));
    assert_eq!(
        str_attr(attributes, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        int_attr(attributes, "server.port"),
        Some(i64::from(handle.addr().port()))
    );
    assert_eq!(
        str_attr(attributes, "network.protocol.version").as_deref(),
        Some("1.1")
    );
    assert!(
        attr(attributes, "error.type").is_none(),
        "a 200 is no error"
    );
    let unset = opentelemetry_proto::tonic::trace::v1::status::StatusCode::Unset as i32;
    assert_eq!(span.status.as_ref().map_or(unset, |s| s.code), unset);
    // The ids are the span's own, not repeated as attributes.
    assert!(attr(attributes, "trace_id").is_none());
    assert!(attr(attributes, "span_id").is_none());
    assert!(span.end_time_unix_nano >= span.start_time_unix_nano);

    handle.shutdown().await;
    stop.cancel();
}

/// An untrusted edge starts a trace of its own, decides sampling itself, and links its server
/// span to the caller's position instead of continuing it.
#[tokio::test]
async fn an_untrusted_edge_starts_a_new_trace_linked_to_the_callers() {
    let stop = CancellationToken::new();
    let (received, collector) = grpc_receiver(stop.clone()).await;
    let endpoint = format!("http://{collector}");
    let handle = spawn_traced(
        &endpoint,
        &[
            ("telemetry.otlp.batch_delay", "50ms"),
            ("server.trust.mode", "edge"),
        ],
    )
    .await;
    // The caller says "not sampled": an edge decides for itself (ratio 1.0 here).
    let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    let reply = get_with(handle.addr(), "/items/linked", Some(unsampled)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let got = received
        .wait_for("the edge's span", |g| {
            str_attr(&g.span.attributes, "url.path").as_deref() == Some("/items/linked")
        })
        .await;
    let span = &got.span;
    assert_ne!(hex(&span.trace_id), TRACE, "a trace of its own");
    assert!(span.parent_span_id.is_empty(), "a root span");
    let [link] = span.links.as_slice() else {
        panic!("one link expected: {:?}", span.links);
    };
    assert_eq!(hex(&link.trace_id), TRACE);
    assert_eq!(hex(&link.span_id), PARENT);
    handle.shutdown().await;
    stop.cancel();
}

/// Three calls (one retried) from one inbound request: four distinct parent-ids downstream,
/// and four CLIENT spans, children of the one SERVER span, whose ids they are.
#[tokio::test]
async fn each_attempt_is_a_client_span_whose_id_the_callee_sees() {
    let stop = CancellationToken::new();
    let (received, collector) = grpc_receiver(stop.clone()).await;
    let endpoint = format!("http://{collector}");
    let batch = ("telemetry.otlp.batch_delay", "50ms");
    let down = spawn_traced(&endpoint, &[batch]).await;
    let down_addr = format!("127.0.0.1:{}", down.addr().port());
    let up = spawn_traced(&endpoint, &[batch, ("discovery.static.down", &down_addr)]).await;
    let run = "spans";
    let reply = get_with(up.addr(), &format!("/fanout/{run}"), Some(TP)).await;
    assert_eq!(reply.status, StatusCode::OK);

    let parents: Vec<TraceParent> = RECORDED
        .lock()
        .unwrap()
        .iter()
        .filter(|(key, _)| key.ends_with(run))
        .map(|(_, tp)| TraceParent::parse(&HeaderValue::from_str(tp).unwrap()).unwrap())
        .collect();
    assert_eq!(parents.len(), 4, "three calls and one retry");
    let ids: std::collections::HashSet<String> =
        parents.iter().map(|p| p.parent_id.to_string()).collect();
    assert_eq!(
        ids.len(),
        4,
        "every attempt has its own parent-id: {parents:?}"
    );
    assert!(parents.iter().all(|p| p.trace_id.to_string() == TRACE));

    let server = received
        .wait_for("the fanout's server span", |g| {
            str_attr(&g.span.attributes, "url.path").as_deref() == Some("/fanout/spans")
        })
        .await;
    let server_id = hex(&server.span.span_id);
    for id in &ids {
        let client = received
            .wait_for("a client span", |g| hex(&g.span.span_id) == *id)
            .await;
        let span = &client.span;
        assert_eq!(span.kind, SpanKind::Client as i32);
        assert_eq!(hex(&span.trace_id), TRACE);
        assert_eq!(
            hex(&span.parent_span_id),
            server_id,
            "a child of the server span"
        );
        assert_eq!(span.name, "GET /record/{key}");
        assert_eq!(
            str_attr(&span.attributes, "url.template").as_deref(),
            Some("/record/{key}")
        );
        assert_eq!(
            str_attr(&span.attributes, "server.address").as_deref(),
            Some("127.0.0.1")
        );
    }
    let statuses: Vec<(Option<i64>, Option<i64>)> = ids
        .iter()
        .map(|id| {
            let g = received.find(|g| hex(&g.span.span_id) == *id).unwrap();
            (
                int_attr(&g.span.attributes, "http.response.status_code"),
                int_attr(&g.span.attributes, "http.request.resend_count"),
            )
        })
        .collect();
    assert!(statuses.contains(&(Some(503), None)), "{statuses:?}");
    assert!(
        statuses.contains(&(Some(200), Some(1))),
        "the retry: {statuses:?}"
    );
    // Downstream, each server span's parent is the attempt's client span.
    for id in &ids {
        received
            .wait_for("a downstream server span under the client span", |g| {
                hex(&g.span.parent_span_id) == *id && g.span.kind == SpanKind::Server as i32
            })
            .await;
    }
    up.shutdown().await;
    down.shutdown().await;
    stop.cancel();
}

#[tokio::test]
async fn logged_and_propagated_ids_are_the_exported_span_ids() {
    let stop = CancellationToken::new();
    let (received, collector) = grpc_receiver(stop.clone()).await;
    let endpoint = format!("http://{collector}");
    let handle = spawn_traced(&endpoint, &[("telemetry.otlp.batch_delay", "50ms")]).await;

    // Continuing a trace: the outbound traceparent names our exported span as parent.
    let tp = "00-11111111111111111111111111111111-2222222222222222-01";
    let sent = get_with(handle.addr(), "/outbound", Some(tp)).await.text();
    let sent = TraceParent::parse(&HeaderValue::from_str(&sent).unwrap()).expect("written");
    assert_eq!(
        sent.trace_id.to_string(),
        "11111111111111111111111111111111"
    );
    let got = received
        .wait_for(
            "the /outbound span",
            of_trace("11111111111111111111111111111111"),
        )
        .await;
    assert_eq!(hex(&got.span.span_id), sent.parent_id.to_string());
    assert_eq!(hex(&got.span.parent_span_id), "2222222222222222");

    // A new trace: the exported span is a root with the ids the context (and logs) carry.
    let sent = get_with(handle.addr(), "/outbound", None).await.text();
    let sent = TraceParent::parse(&HeaderValue::from_str(&sent).unwrap()).expect("written");
    assert!(sent.flags.is_sampled());
    let trace = sent.trace_id.to_string();
    let got = received.wait_for("the root span", of_trace(&trace)).await;
    assert_eq!(hex(&got.span.span_id), sent.parent_id.to_string());
    assert!(got.span.parent_span_id.is_empty(), "a root span");

    handle.shutdown().await;
    stop.cancel();
}

#[tokio::test]
async fn spans_of_the_last_request_are_flushed_on_shutdown() {
    let stop = CancellationToken::new();
    let (received, collector) = grpc_receiver(stop.clone()).await;
    let endpoint = format!("http://{collector}");
    // Nothing leaves the batch by time: only the shutdown flush can export.
    let handle = spawn_traced(&endpoint, &[("telemetry.otlp.batch_delay", "1h")]).await;

    let tp = "00-33333333333333333333333333333333-4444444444444444-01";
    assert_eq!(
        get_with(handle.addr(), "/items/last", Some(tp))
            .await
            .status,
        StatusCode::OK
    );
    let report = handle.shutdown().await;
    assert!(
        report.hooks.finished.iter().any(|h| h == "flush traces"),
        "{report:?}"
    );
    let got = received
        .find(of_trace("33333333333333333333333333333333"))
        .expect("the last request's span was flushed before shutdown returned");
    assert_eq!(got.span.name, "GET /items/{id}");
    assert_eq!(hex(&got.span.parent_span_id), "4444444444444444");
    stop.cancel();
}

#[tokio::test]
async fn http_protobuf_export() {
    let stop = CancellationToken::new();
    let (received, collector) = http_receiver(stop.clone()).await;
    let endpoint = format!("http://{collector}");
    let handle = spawn_traced(
        &endpoint,
        &[
            ("telemetry.otlp.protocol", "http-protobuf"),
            ("telemetry.otlp.batch_delay", "50ms"),
        ],
    )
    .await;
    let instance = handle.identity().instance_id.clone();

    get_with(handle.addr(), "/items/9", Some(TP)).await;
    let got = received
        .wait_for("the span over HTTP", of_trace(TRACE))
        .await;
    assert_eq!(got.span.name, "GET /items/{id}");
    assert_eq!(hex(&got.span.parent_span_id), PARENT);
    assert_eq!(
        str_attr(&got.span.attributes, "url.path").as_deref(),
        Some("/items/9")
    );
    assert_eq!(
        str_attr(&got.resource, "service.instance.id"),
        Some(instance)
    );

    // And the flush on shutdown goes over HTTP too.
    let tp = "00-55555555555555555555555555555555-6666666666666666-01";
    get_with(handle.addr(), "/items/10", Some(tp)).await;
    handle.shutdown().await;
    received
        .wait_for(
            "the last span over HTTP",
            of_trace("55555555555555555555555555555555"),
        )
        .await;
    stop.cancel();
}

#[tokio::test]
async fn ratio_zero_drops_new_traces_but_follows_a_sampled_caller() {
    let stop = CancellationToken::new();
    let (received, collector) = grpc_receiver(stop.clone()).await;
    let endpoint = format!("http://{collector}");
    let handle = spawn_traced(
        &endpoint,
        &[
            ("telemetry.otlp.sample_ratio", "0.0"),
            ("telemetry.otlp.batch_delay", "1h"),
        ],
    )
    .await;

    // A new trace is not sampled, and callees are told so.
    let sent = get_with(handle.addr(), "/outbound", None).await.text();
    let dropped = TraceParent::parse(&HeaderValue::from_str(&sent).unwrap()).expect("written");
    assert!(!dropped.flags.is_sampled(), "{sent}");
    // A sampled caller's trace is followed (parent-based).
    let tp = "00-77777777777777777777777777777777-8888888888888888-01";
    let sent = get_with(handle.addr(), "/outbound", Some(tp)).await.text();
    assert!(sent.ends_with("-01"), "{sent}");

    handle.shutdown().await;
    let spans = received.spans();
    assert!(
        spans
            .iter()
            .any(of_trace("77777777777777777777777777777777")),
        "{spans:#?}"
    );
    assert!(
        !spans.iter().any(of_trace(&dropped.trace_id.to_string())),
        "{spans:#?}"
    );
    stop.cancel();
}

#[tokio::test]
async fn services_of_one_process_export_with_their_own_service_name() {
    let stop = CancellationToken::new();
    let (received, collector) = grpc_receiver(stop.clone()).await;
    let endpoint = format!("http://{collector}");
    let traced = spawn_traced(&endpoint, &[("telemetry.otlp.batch_delay", "1h")]).await;
    let other = chassis::service::spawn::<common::TestService>(overrides(
        &endpoint,
        &[("telemetry.otlp.batch_delay", "1h")],
    ))
    .await
    .expect("service starts");

    let a = "00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-0000000000000001-01";
    let b = "00-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-0000000000000002-01";
    get_with(traced.addr(), "/items/1", Some(a)).await;
    get_with(other.addr(), "/hello", Some(b)).await;
    traced.shutdown().await;
    other.shutdown().await;

    let name_of = |trace: &str| {
        let got = received.find(of_trace(trace)).expect("exported");
        (
            got.span.name.clone(),
            str_attr(&got.resource, "service.name"),
        )
    };
    assert_eq!(
        name_of("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        ("GET /items/{id}".to_owned(), Some("traced".to_owned()))
    );
    assert_eq!(
        name_of("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
        ("GET /hello".to_owned(), Some("test-service".to_owned()))
    );
    stop.cancel();
}

#[tokio::test]
async fn spans_inside_a_handler_are_children_of_the_server_span() {
    let stop = CancellationToken::new();
    let (received, collector) = grpc_receiver(stop.clone()).await;
    let endpoint = format!("http://{collector}");
    let handle = spawn_traced(&endpoint, &[("telemetry.otlp.batch_delay", "1h")]).await;
    let tp = "00-99999999999999999999999999999999-0000000000000009-01";
    assert_eq!(
        get_with(handle.addr(), "/nested", Some(tp)).await.text(),
        "nested"
    );
    handle.shutdown().await;

    let trace = "99999999999999999999999999999999";
    let server = received
        .find(|g| of_trace(trace)(g) && g.span.name == "GET /nested")
        .expect("server span");
    let child = received
        .find(|g| of_trace(trace)(g) && g.span.name == "load item")
        .expect("handler span");
    assert_eq!(child.span.parent_span_id, server.span.span_id);
    assert_ne!(child.span.span_id, server.span.span_id);
    assert_eq!(
        str_attr(&child.resource, "service.name").as_deref(),
        Some("traced")
    );
    let grandchild = received
        .find(|g| of_trace(trace)(g) && g.span.name == "parse item")
        .expect("the span inside the handler's span");
    assert_eq!(grandchild.span.parent_span_id, child.span.span_id);
    assert_eq!(
        str_attr(&grandchild.resource, "service.name").as_deref(),
        Some("traced")
    );
    stop.cancel();
}

/// A 5xx answer is an error on the server span: `error.type` is the status code and the
/// span's status is `Error` (the OpenTelemetry HTTP server conventions).
#[tokio::test]
async fn a_5xx_server_span_is_an_error() {
    let stop = CancellationToken::new();
    let (received, collector) = grpc_receiver(stop.clone()).await;
    let endpoint = format!("http://{collector}");
    let handle = spawn_traced(&endpoint, &[("telemetry.otlp.batch_delay", "50ms")]).await;
    let tp = "00-77777777777777777777777777777777-0000000000000007-01";
    let reply = get_with(handle.addr(), "/broken", Some(tp)).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let got = received
        .wait_for(
            "the /broken span",
            of_trace("77777777777777777777777777777777"),
        )
        .await;
    let attributes = &got.span.attributes;
    assert_eq!(int_attr(attributes, "http.response.status_code"), Some(500));
    assert_eq!(str_attr(attributes, "error.type").as_deref(), Some("500"));
    let error = opentelemetry_proto::tonic::trace::v1::status::StatusCode::Error as i32;
    assert_eq!(got.span.status.as_ref().map(|s| s.code), Some(error));
    handle.shutdown().await;
    stop.cancel();
}

/// Two instances of one service in one process (as a test cluster runs them), each with its
/// own collector: a request's server span and the spans its handler makes go to the
/// collector of the instance that served it, never to the other.
#[tokio::test]
async fn two_instances_of_one_service_export_to_their_own_collectors() {
    let stop = CancellationToken::new();
    let (first_received, first_collector) = grpc_receiver(stop.clone()).await;
    let (second_received, second_collector) = grpc_receiver(stop.clone()).await;
    let batch = ("telemetry.otlp.batch_delay", "1h");
    let first = spawn_traced(&format!("http://{first_collector}"), &[batch]).await;
    let second = spawn_traced(&format!("http://{second_collector}"), &[batch]).await;
    let to_first = "00-11111111111111111111111111111111-0000000000000001-01";
    let to_second = "00-22222222222222222222222222222222-0000000000000002-01";
    for _ in 0..3 {
        get_with(first.addr(), "/nested", Some(to_first)).await;
        get_with(second.addr(), "/nested", Some(to_second)).await;
    }
    first.shutdown().await;
    second.shutdown().await;

    for (received, own, other) in [
        (
            &first_received,
            "11111111111111111111111111111111",
            "22222222222222222222222222222222",
        ),
        (
            &second_received,
            "22222222222222222222222222222222",
            "11111111111111111111111111111111",
        ),
    ] {
        let spans = received.spans();
        let names = |trace: &str| {
            let mut names: Vec<String> = spans
                .iter()
                .filter(|g| hex(&g.span.trace_id) == trace)
                .map(|g| g.span.name.clone())
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            names(own),
            [
                "GET /nested",
                "GET /nested",
                "GET /nested",
                "load item",
                "load item",
                "load item",
                "parse item",
                "parse item",
                "parse item"
            ],
            "each instance's spans, all of them"
        );
        assert!(
            names(other).is_empty(),
            "the other instance's spans: {:?}",
            names(other)
        );
    }
    stop.cancel();
}
