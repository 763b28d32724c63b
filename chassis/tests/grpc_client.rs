//! The gRPC channel: tonic-generated clients over the chassis' discovery, balancing,
//! breakers, retries and deadlines, against real services over loopback.
#![cfg(feature = "grpc")]
#![allow(missing_docs, clippy::unwrap_used)]

mod common;
mod grpc_support;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chassis::discovery::{Endpoint, Endpoints};
use chassis::grpc::GrpcChannel;
use chassis::resilience::breaker::State;
use chassis::resilience::config::ClientResilienceConfig;
use chassis::service::{ServiceHandle, spawn};
use chassis_test_echo::pb::SayRequest;
use common::eventually;
use grpc_support::{EchoClient, EchoService, hits, plain_client, say};
use tonic::Code;

async fn echo(extra: &[(&str, &str)]) -> ServiceHandle {
    let mut all = vec![
        ("server.host", "127.0.0.1"),
        ("server.port", "0"),
        ("shutdown.drain_delay", "0s"),
        ("telemetry.log.level", "warn"),
    ];
    all.extend_from_slice(extra);
    spawn::<EchoService>(all.iter().copied()).await.unwrap()
}

fn channel(toml: &str, addrs: &[SocketAddr]) -> GrpcChannel {
    let config: ClientResilienceConfig = toml::from_str(toml).unwrap();
    let endpoints = Endpoints::fixed("echo", addrs.iter().map(|a| Endpoint::new(*a)));
    GrpcChannel::new("echo", &config, endpoints)
        .unwrap()
        .idempotent_from(chassis_test_echo::FILE_DESCRIPTOR_SET)
        .unwrap()
}

fn failing(code: Code) -> SayRequest {
    SayRequest {
        fail: code as i32,
        ..say("x")
    }
}

#[tokio::test]
async fn grpc_timeout_is_propagated_across_two_hops() {
    let last = echo(&[]).await;
    let last_addr = last.addr().to_string();
    let first = echo(&[
        ("forward_to", "echo-next"),
        ("discovery.static.echo-next", last_addr.as_str()),
    ])
    .await;
    let mut client = plain_client(first.addr()).await;
    let mut request = tonic::Request::new(say("forward:hello"));
    request.set_timeout(Duration::from_secs(3));
    let reply = client.say(request).await.unwrap().into_inner();
    let seen_first: u64 = reply
        .message
        .rsplit_once("(saw ")
        .and_then(|(_, rest)| rest.strip_suffix(" ms)"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(reply.message.starts_with("hello via "), "{}", reply.message);
    assert!(
        seen_first > 0 && seen_first <= 3000,
        "first hop saw {seen_first}"
    );
    let sent = chassis::grpc::parse_grpc_timeout(&reply.grpc_timeout.parse().unwrap())
        .expect("the second hop got a grpc-timeout");
    assert!(
        sent <= Duration::from_millis(seen_first),
        "{sent:?} after {seen_first} ms"
    );
    assert!(
        reply.deadline_ms > 0 && reply.deadline_ms <= seen_first,
        "the second hop saw {} ms after the first saw {seen_first}",
        reply.deadline_ms
    );
    // Without a deadline from the caller, the channel's own timeout (2 s) is the callee's.
    let reply = client.say(say("forward:again")).await.unwrap().into_inner();
    assert!(
        reply.deadline_ms > 0 && reply.deadline_ms <= 2000,
        "{}",
        reply.deadline_ms
    );
    first.shutdown().await;
    last.shutdown().await;
}

#[tokio::test]
async fn a_failing_instance_is_ejected_and_calls_go_to_the_other() {
    let good = echo(&[]).await;
    let bad = echo(&[("fail_with", "14")]).await;
    // Two failures eject (as in the HTTP client's test): after each, the balancer prefers the
    // endpoint that failed less until its latency estimate decays again.
    let channel = channel(
        "[outlier]\nminimum_calls = 2\nwindow = { kind = \"count\", size = 4 }\n",
        &[good.addr(), bad.addr()],
    );
    let mut client = EchoClient::new(channel.clone());
    let bad_addr = bad.addr().to_string();
    eventually(
        Duration::from_secs(10),
        "the failing instance ejected",
        || {
            let mut client = client.clone();
            let channel = channel.clone();
            let bad_addr = bad_addr.clone();
            async move {
                // Say is idempotent: an UNAVAILABLE attempt is retried, on the other instance.
                let _ = client.say(say("x")).await;
                channel
                    .endpoint_states()
                    .iter()
                    .any(|(addr, state)| *addr == bad_addr && *state == State::Open)
            }
        },
    )
    .await;
    for _ in 0..20 {
        let reply = client.say(say("x")).await.unwrap().into_inner();
        assert_eq!(reply.instance, good.identity().instance_id);
    }
    assert_eq!(channel.breaker().state(), State::Closed);
    good.shutdown().await;
    bad.shutdown().await;
}

const QUICK_BREAKER: &str = "
retry.max_attempts = 1
[breaker]
minimum_calls = 5
window = { kind = \"count\", size = 10 }
";

#[tokio::test]
async fn the_breaker_opens_on_unavailable_but_not_on_invalid_argument() {
    let service = echo(&[]).await;
    let invalid = channel(QUICK_BREAKER, &[service.addr()]);
    let mut client = EchoClient::new(invalid.clone());
    for _ in 0..20 {
        let status = client
            .say(failing(Code::InvalidArgument))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
    }
    assert_eq!(
        invalid.breaker().state(),
        State::Closed,
        "the caller's mistake"
    );
    assert!(
        invalid
            .endpoint_states()
            .iter()
            .all(|(_, s)| *s == State::Closed),
        "no endpoint ejected for the caller's mistake"
    );

    let unavailable = channel(QUICK_BREAKER, &[service.addr()]);
    let mut client = EchoClient::new(unavailable.clone());
    for _ in 0..5 {
        let status = client.say(failing(Code::Unavailable)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
    }
    assert_eq!(unavailable.breaker().state(), State::Open);
    let refused = client.say(say("x")).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable);
    assert_eq!(
        refused.message(),
        "a service this call needs is unavailable"
    );
    service.shutdown().await;
}

#[tokio::test]
async fn only_idempotent_methods_are_retried() {
    let key = "grpc-retries";
    let service = echo(&[("fail_with", "14"), ("hits_key", key)]).await;
    let channel = channel("retry.max_attempts = 3", &[service.addr()]);
    let mut client = EchoClient::new(channel);
    let counter = hits(key);
    // Shout is not marked idempotent: one attempt.
    let status = client.shout(say("x")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(counter.swap(0, Ordering::SeqCst), 1);
    // Say is (`idempotency_level = IDEMPOTENT` in echo.proto): three attempts.
    let status = client.say(say("x")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(counter.swap(0, Ordering::SeqCst), 3);
    // INVALID_ARGUMENT is never retried.
    let status = client
        .say(failing(Code::InvalidArgument))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(counter.swap(0, Ordering::SeqCst), 1);
    service.shutdown().await;
}

#[tokio::test]
async fn the_channels_own_timeout_is_deadline_exceeded_and_charged() {
    let service = echo(&[]).await;
    let quick = channel(
        &format!("timeout = \"100ms\"\n{QUICK_BREAKER}"),
        &[service.addr()],
    );
    let mut client = EchoClient::new(quick.clone());
    for _ in 0..5 {
        let slow = SayRequest {
            delay_ms: 2000,
            ..say("x")
        };
        let status = client.say(slow).await.unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    }
    assert_eq!(
        quick.breaker().state(),
        State::Open,
        "a slow dependency fails"
    );
    service.shutdown().await;
}

#[tokio::test]
async fn a_status_in_the_trailers_is_judged_when_the_stream_ends() {
    let service = echo(&[]).await;
    let stream = |fail: Code| chassis_test_echo::pb::RepeatRequest {
        message: "tick".to_owned(),
        count: 2,
        delay_ms: 0,
        fail: fail as i32,
    };
    // INVALID_ARGUMENT after two messages: the caller's mistake, whatever the count.
    let invalid = channel(QUICK_BREAKER, &[service.addr()]);
    let mut client = EchoClient::new(invalid.clone());
    for _ in 0..10 {
        let mut replies = client
            .repeat(stream(Code::InvalidArgument))
            .await
            .unwrap()
            .into_inner();
        assert!(replies.message().await.unwrap().is_some());
        assert!(replies.message().await.unwrap().is_some());
        let ended = replies.message().await.unwrap_err();
        assert_eq!(ended.code(), Code::InvalidArgument);
    }
    assert_eq!(invalid.breaker().state(), State::Closed);
    // UNAVAILABLE in the trailers: the dependency failed, once the stream has ended.
    let unavailable = channel(QUICK_BREAKER, &[service.addr()]);
    let mut client = EchoClient::new(unavailable.clone());
    for _ in 0..5 {
        assert_eq!(unavailable.breaker().state(), State::Closed);
        let mut replies = client
            .repeat(stream(Code::Unavailable))
            .await
            .unwrap()
            .into_inner();
        while replies
            .message()
            .await
            .transpose()
            .is_some_and(|r| r.is_ok())
        {}
    }
    assert_eq!(unavailable.breaker().state(), State::Open);
    assert!(
        unavailable
            .endpoint_states()
            .iter()
            .all(|(_, state)| *state == State::Open),
        "the endpoint ejected too: {:?}",
        unavailable.endpoint_states()
    );
    service.shutdown().await;
}

#[tokio::test]
async fn a_server_stream_flows_through_the_channel() {
    let service = echo(&[]).await;
    let mut client = EchoClient::new(channel("", &[service.addr()]));
    let mut stream = client
        .repeat(chassis_test_echo::pb::RepeatRequest {
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
    service.shutdown().await;
}

/// The `/metrics` text of a service.
async fn metrics_of(service: &ServiceHandle) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(service.ops_addr())
        .await
        .unwrap();
    socket
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    socket.read_to_string(&mut text).await.unwrap();
    text
}

#[tokio::test]
async fn calls_are_measured_by_the_rpc_conventions() {
    let last = echo(&[]).await;
    let last_addr = last.addr().to_string();
    let first = echo(&[
        ("forward_to", "echo-next"),
        ("discovery.static.echo-next", last_addr.as_str()),
    ])
    .await;
    let mut client = plain_client(first.addr()).await;
    client.say(say("forward:hi")).await.unwrap();
    let _ = client
        .say(failing(Code::InvalidArgument))
        .await
        .unwrap_err();
    let text = metrics_of(&first).await;
    let has = |needle: &[&str]| {
        text.lines()
            .any(|line| needle.iter().all(|part| line.contains(part)))
    };
    for series in [
        [
            "rpc_server_call_duration_seconds_count",
            "rpc_method=\"Say\"",
            "rpc_grpc_status_code=\"0\"",
        ],
        [
            "rpc_server_call_duration_seconds_count",
            "rpc_method=\"Say\"",
            "rpc_grpc_status_code=\"3\"",
        ],
        [
            "rpc_client_call_duration_seconds_count",
            "rpc_method=\"Say\"",
            "rpc_grpc_status_code=\"0\"",
        ],
    ] {
        assert!(
            has(&series) && has(&["rpc_system=\"grpc\"", "rpc_service=\"echo.v1.Echo\""]),
            "{series:?} missing from\n{text}"
        );
    }
    first.shutdown().await;
    last.shutdown().await;
}
