//! gRPC spans by the OpenTelemetry RPC conventions, exported over OTLP to a receiver in the
//! test: a SERVER span per call and a CLIENT span per attempt, linked across two hops.
#![cfg(all(feature = "grpc", feature = "otlp"))]
#![allow(clippy::unwrap_used, missing_docs)]

mod grpc_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chassis::service::ServiceHandle;
use grpc_support::{EchoService, plain_client, say};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tokio::net::TcpListener;

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            for ss in rs.scope_spans {
                spans.extend(ss.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Received {
    async fn wait_for(&self, what: &str, pred: impl Fn(&Span) -> bool) -> Span {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(found) = self.0.lock().unwrap().iter().find(|s| pred(s)) {
                return found.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {:#?}",
                self.0.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receiver() -> (Received, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Received::default();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(received.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    (received, addr)
}

async fn traced(endpoint: &str, extra: &[(&str, &str)]) -> ServiceHandle {
    let mut all = vec![
        ("server.host", "127.0.0.1"),
        ("server.port", "0"),
        ("shutdown.drain_delay", "0s"),
        ("telemetry.log.level", "warn,chassis::telemetry::http=info"),
        ("telemetry.log.access", "off"),
        ("telemetry.otlp.endpoint", endpoint),
    ];
    all.extend_from_slice(extra);
    chassis::service::spawn::<EchoService>(all.iter().copied())
        .await
        .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn attr(attributes: &[KeyValue], key: &str) -> Option<any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.clone())
}

fn text(span: &Span, key: &str) -> Option<String> {
    match attr(&span.attributes, key) {
        Some(any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

fn int(span: &Span, key: &str) -> Option<i64> {
    match attr(&span.attributes, key) {
        Some(any_value::Value::IntValue(i)) => Some(i),
        _ => None,
    }
}

#[tokio::test]
async fn server_and_client_spans_follow_the_rpc_conventions_across_two_hops() {
    let (received, receiver_addr) = receiver().await;
    let endpoint = format!("http://{receiver_addr}");
    let last = traced(&endpoint, &[]).await;
    let last_addr = last.addr().to_string();
    let first = traced(
        &endpoint,
        &[
            ("forward_to", "echo-next"),
            ("discovery.static.echo-next", last_addr.as_str()),
        ],
    )
    .await;
    let mut client = plain_client(first.addr()).await;
    let mut request = tonic::Request::new(say("forward:hi"));
    request
        .metadata_mut()
        .insert("traceparent", TP.parse().unwrap());
    client.say(request).await.unwrap();

    let is_call = |span: &Span, kind: SpanKind| {
        span.name == "echo.v1.Echo/Say" && span.kind == kind as i32 && hex(&span.trace_id) == TRACE
    };
    let outer = received
        .wait_for("the first hop's SERVER span", |s| {
            is_call(s, SpanKind::Server) && hex(&s.parent_span_id) == "00f067aa0ba902b7"
        })
        .await;
    let attempt = received
        .wait_for("the CLIENT span of the outbound call", |s| {
            is_call(s, SpanKind::Client) && s.parent_span_id == outer.span_id
        })
        .await;
    let inner = received
        .wait_for("the second hop's SERVER span", |s| {
            is_call(s, SpanKind::Server) && s.parent_span_id == attempt.span_id
        })
        .await;
    for span in [&outer, &attempt, &inner] {
        assert_eq!(
            text(span, "rpc.system").as_deref(),
            Some("grpc"),
            "{span:?}"
        );
        assert_eq!(text(span, "rpc.service").as_deref(), Some("echo.v1.Echo"));
        assert_eq!(text(span, "rpc.method").as_deref(), Some("Say"));
        assert_eq!(int(span, "rpc.grpc.status_code"), Some(0), "{span:?}");
    }
    assert_eq!(
        text(&attempt, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    first.shutdown().await;
    last.shutdown().await;
}

#[tokio::test]
async fn a_failed_call_marks_its_server_span_with_the_status() {
    let (received, receiver_addr) = receiver().await;
    let service = traced(&format!("http://{receiver_addr}"), &[]).await;
    let mut client = plain_client(service.addr()).await;
    let mut request = tonic::Request::new(chassis_test_echo::pb::SayRequest {
        fail: tonic::Code::Unavailable as i32,
        ..say("x")
    });
    request
        .metadata_mut()
        .insert("traceparent", TP.parse().unwrap());
    let _ = client.say(request).await.unwrap_err();
    let span = received
        .wait_for("the failed call's span", |s| {
            s.name == "echo.v1.Echo/Say" && int(s, "rpc.grpc.status_code") == Some(14)
        })
        .await;
    let status = span.status.unwrap();
    assert_eq!(status.code, 2, "an error status: {status:?}");
    service.shutdown().await;
}
