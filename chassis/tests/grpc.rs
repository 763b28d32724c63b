//! gRPC on the chassis: tonic services beside the HTTP routes, through the standard stack,
//! called by a real tonic client over loopback.
#![cfg(feature = "grpc")]
#![allow(missing_docs, clippy::unwrap_used)]

mod grpc_support;

use std::time::Duration;

use chassis::service::spawn;
use chassis_test_echo::pb::{RepeatRequest, SayRequest};
use grpc_support::{EchoService, gate, hits, plain_channel, plain_client, raw_call, say};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

fn config(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = vec![
        ("server.host".to_owned(), "127.0.0.1".to_owned()),
        ("server.port".to_owned(), "0".to_owned()),
        ("shutdown.drain_delay".to_owned(), "0s".to_owned()),
        ("telemetry.log.level".to_owned(), "warn".to_owned()),
    ];
    all.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    all
}

#[tokio::test]
async fn unary_and_server_streaming_beside_http_on_one_port() {
    let service = spawn::<EchoService>(config(&[])).await.unwrap();
    let mut client = plain_client(service.addr()).await;
    let reply = client.say(say("hi")).await.unwrap().into_inner();
    assert_eq!(reply.message, "hi");
    let mut stream = client
        .repeat(RepeatRequest {
            message: "tick".to_owned(),
            count: 3,
            delay_ms: 0,
            fail: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    while let Some(reply) = stream.message().await.unwrap() {
        got.push(reply.message);
    }
    assert_eq!(got, ["tick 0", "tick 1", "tick 2"]);
    // HTTP/1.1 on the same port.
    let http = reqwest_like_get(service.addr(), "/hello").await;
    assert_eq!(http, "hello over HTTP");
    service.shutdown().await;
}

/// A plain HTTP/1.1 GET over a raw socket.
async fn reqwest_like_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer.split("\r\n\r\n").nth(1).unwrap().to_owned()
}

#[tokio::test]
async fn the_stacks_own_answers_are_grpc_statuses_without_internal_text() {
    let service = spawn::<EchoService>(config(&[
        ("server.max_body_size", "1KiB"),
        ("server.request_timeout", "300ms"),
    ]))
    .await
    .unwrap();
    let mut client = plain_client(service.addr()).await;

    // A panic: INTERNAL, and the panic's text stays in the log.
    let panicked = client
        .say(SayRequest {
            panic: true,
            ..say("x")
        })
        .await
        .unwrap_err();
    assert_eq!(panicked.code(), Code::Internal, "{panicked:?}");
    assert!(!panicked.message().contains("secret"), "{panicked:?}");

    // A message over server.max_body_size: RESOURCE_EXHAUSTED.
    let big = client.say(say(&"x".repeat(4096))).await.unwrap_err();
    assert_eq!(big.code(), Code::ResourceExhausted, "{big:?}");

    // The request timeout: DEADLINE_EXCEEDED.
    let slow = client.say(say("gate:timeout")).await.unwrap_err();
    assert_eq!(slow.code(), Code::DeadlineExceeded, "{slow:?}");

    // The handler's own status passes as it is.
    let invalid = client
        .say(SayRequest {
            fail: Code::InvalidArgument as i32,
            ..say("x")
        })
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert_eq!(invalid.message(), "failed on purpose");

    // No such method: UNIMPLEMENTED, not a 404 page.
    let unknown = unknown_method(service.addr()).await;
    assert_eq!(unknown, Code::Unimplemented);
    service.shutdown().await;
}

#[tokio::test]
async fn a_call_over_the_concurrency_limit_is_unavailable() {
    let service = spawn::<EchoService>(config(&[("server.max_concurrent_requests", "1")]))
        .await
        .unwrap();
    let mut client = plain_client(service.addr()).await;
    let mut holder = client.clone();
    let held = tokio::spawn(async move { holder.say(say("gate:shed")).await });
    // The held call takes the only slot as soon as the server has it; until then a probe
    // may pass, so probe until one is shed.
    let mut shed = None;
    for _ in 0..1000 {
        match client.say(say("x")).await {
            Err(status) if status.code() == Code::Unavailable => {
                shed = Some(status);
                break;
            }
            Ok(_) => tokio::task::yield_now().await,
            Err(status) => panic!("{status:?}"),
        }
    }
    let shed = shed.expect("a call shed while another holds the only slot");
    assert_eq!(shed.message(), "the service is unavailable; retry later");
    gate("shed").notify_one();
    assert_eq!(
        held.await.unwrap().unwrap().into_inner().message,
        "gate:shed"
    );
    service.shutdown().await;
}

/// Calls `/no.such.Service/Method` with a raw tonic client.
async fn unknown_method(addr: std::net::SocketAddr) -> Code {
    let mut grpc = tonic::client::Grpc::new(plain_channel(addr).await);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/no.such.Service/Method");
    let codec = tonic_prost::ProstCodec::<SayRequest, SayRequest>::default();
    grpc.unary(tonic::Request::new(say("x")), path, codec)
        .await
        .unwrap_err()
        .code()
}

#[tokio::test]
async fn grpc_timeout_is_the_deadline_from_a_trusted_caller_only() {
    let service = spawn::<EchoService>(config(&[
        ("server.deadline_floor", "20ms"),
        ("hits_key", "floor"),
    ]))
    .await
    .unwrap();
    let mut client = plain_client(service.addr()).await;
    let mut request = tonic::Request::new(say("x"));
    request.set_timeout(Duration::from_secs(3));
    let seen = client.say(request).await.unwrap().into_inner().deadline_ms;
    assert!(seen > 0 && seen <= 3000, "the handler saw {seen} ms");

    // The deadline ends the call: DEADLINE_EXCEEDED from the server (a raw call, so no
    // client-side timer answers first).
    let path = "/echo.v1.Echo/Say";
    let (code, content_type) = raw_call(
        service.addr(),
        path,
        &say("gate:deadline"),
        &[("grpc-timeout", "200m")],
    )
    .await;
    assert_eq!(code, Code::DeadlineExceeded);
    assert_eq!(content_type, "application/grpc");

    // Below the floor: answered at once, the handler never runs (a raw call: tonic's own
    // timer would race the server's answer).
    let handled = hits("floor").load(std::sync::atomic::Ordering::SeqCst);
    let (code, _) = raw_call(service.addr(), path, &say("x"), &[("grpc-timeout", "2m")]).await;
    assert_eq!(code, Code::DeadlineExceeded, "the server's own answer");
    let after = hits("floor").load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(after, handled, "the handler never ran");
    service.shutdown().await;

    // An edge ignores an untrusted caller's deadline.
    let edge = spawn::<EchoService>(config(&[("server.trust.mode", "edge")]))
        .await
        .unwrap();
    let mut client = plain_client(edge.addr()).await;
    let mut request = tonic::Request::new(say("x"));
    request.set_timeout(Duration::from_secs(60));
    let reply = client.say(request).await.unwrap().into_inner();
    assert_eq!(reply.deadline_ms, 0, "no deadline from an untrusted caller");
    let (code, _) = raw_call(edge.addr(), path, &say("x"), &[("grpc-timeout", "2m")]).await;
    assert_eq!(
        code,
        Code::Ok,
        "an untrusted deadline below the floor is not even read"
    );
    edge.shutdown().await;
}

#[tokio::test]
async fn health_turns_not_serving_at_shutdown_while_the_drain_delay_still_serves() {
    let service = spawn::<EchoService>(config(&[("shutdown.drain_delay", "5s")]))
        .await
        .unwrap();
    let channel = plain_channel(service.addr()).await;
    let mut health = HealthClient::new(channel.clone());
    let check = |service: &str| HealthCheckRequest {
        service: service.to_owned(),
    };
    let status = |reply: tonic_health::pb::HealthCheckResponse| reply.status;
    for name in ["", "echo.v1.Echo"] {
        let reply = health.check(check(name)).await.unwrap().into_inner();
        assert_eq!(status(reply), ServingStatus::Serving as i32, "{name:?}");
    }
    let unknown = health.check(check("no.such.Service")).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let mut watch = health
        .watch(check("echo.v1.Echo"))
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);

    // A watch with a deadline ends at it (DEADLINE_EXCEEDED), as any stream should.
    let mut bounded = tonic::Request::new(check(""));
    bounded.set_timeout(Duration::from_millis(200));
    let mut short = health.watch(bounded).await.unwrap().into_inner();
    assert_eq!(
        short.message().await.unwrap().unwrap().status,
        ServingStatus::Serving as i32
    );
    let ended = tokio::time::timeout(Duration::from_secs(20), short.message())
        .await
        .expect("the watch ended at its deadline")
        .unwrap_err();
    assert_eq!(ended.code(), Code::DeadlineExceeded, "{ended:?}");

    service.shutdown_handle().trigger();
    let flipped = watch.message().await.unwrap().unwrap();
    assert_eq!(flipped.status, ServingStatus::NotServing as i32);
    let reply = health.check(check("")).await.unwrap().into_inner();
    assert_eq!(reply.status, ServingStatus::NotServing as i32);
    // The drain delay still serves calls.
    let mut echo = plain_client(service.addr()).await;
    assert_eq!(
        echo.say(say("still")).await.unwrap().into_inner().message,
        "still"
    );
    // Draining ends the watch, so it holds nothing past the grace period.
    let ended = watch.message().await.unwrap_err();
    assert_eq!(ended.code(), Code::Unavailable);
    let report = service.stopped().await;
    assert_eq!(report.cut_connections, 0);
}

#[tokio::test]
async fn reflection_lists_the_services_unless_switched_off() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    async fn list(addr: std::net::SocketAddr) -> Result<Vec<String>, tonic::Status> {
        let channel = plain_channel(addr).await;
        let mut reflection = ServerReflectionClient::new(channel);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut replies = reflection
            .server_reflection_info(futures_util::stream::iter([request]))
            .await?
            .into_inner();
        let reply = replies.message().await?.unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
            panic!("not a list: {reply:?}");
        };
        let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        names.sort();
        Ok(names)
    }

    let service = spawn::<EchoService>(config(&[])).await.unwrap();
    let names = list(service.addr()).await.unwrap();
    for name in [
        "echo.v1.Echo",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing from {names:?}"
        );
    }
    service.shutdown().await;

    let off = spawn::<EchoService>(config(&[("server.grpc.reflection", "false")]))
        .await
        .unwrap();
    let refused = list(off.addr()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented);
    off.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_a_stream_in_flight_finish_then_goaway_closes_the_connection() {
    use prost::Message as _;
    let service = spawn::<EchoService>(config(&[("shutdown.grace_period", "10s")]))
        .await
        .unwrap();
    let addr = service.addr();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (h2, connection) = h2::client::handshake(tcp).await.unwrap();
    let closed = tokio::spawn(connection);
    let mut h2 = h2.ready().await.unwrap();
    let request = http::Request::post(format!("http://{addr}/echo.v1.Echo/Repeat"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (response, mut send) = h2.send_request(request, false).unwrap();
    let message = RepeatRequest {
        message: "tick".to_owned(),
        count: 4,
        delay_ms: 100,
        fail: 0,
    }
    .encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&message);
    send.send_data(bytes::Bytes::from(frame), true).unwrap();
    let mut body = response.await.unwrap().into_body();
    let mut received = body.data().await.unwrap().unwrap().len();
    body.flow_control().release_capacity(received).unwrap();
    // Shutdown begins with the stream in flight; the drain delay is zero: draining at once.
    let stopping = tokio::spawn(service.shutdown());
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        body.flow_control().release_capacity(chunk.len()).unwrap();
        received += chunk.len();
    }
    let trailers = body.trailers().await.unwrap().unwrap();
    assert_eq!(
        trailers["grpc-status"], "0",
        "the stream finished: {trailers:?}"
    );
    let one = SayReplyLen::of("tick 0");
    assert_eq!(received, 4 * one, "four messages of {one} bytes");
    // The server said GOAWAY: no new stream on this connection, and it closes cleanly.
    let refused = h2
        .send_request(
            http::Request::post(format!("http://{addr}/x"))
                .body(())
                .unwrap(),
            true,
        )
        .map(|_| ());
    let refused = match refused {
        Ok(()) => h2.ready().await.map(|_| ()),
        Err(error) => Err(error),
    };
    assert!(refused.is_err(), "a new stream after GOAWAY");
    closed.await.unwrap().unwrap();
    let report = stopping.await.unwrap();
    assert_eq!(report.cut_connections, 0);
}

/// The length of one framed `SayReply` the echo service streams.
struct SayReplyLen;

impl SayReplyLen {
    fn of(message: &str) -> usize {
        use prost::Message as _;
        let instance_len = "echo-".len() + 16;
        let reply = chassis_test_echo::pb::SayReply {
            message: message.to_owned(),
            instance: "x".repeat(instance_len),
            ..Default::default()
        };
        5 + reply.encoded_len()
    }
}
