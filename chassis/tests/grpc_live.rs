//! gRPC channels under live configuration and runtime control, against real files, a real
//! admin endpoint and a real tonic echo service over loopback: a reloaded `clients.<name>`
//! reaches the channel on its next call, an operator's forced breaker refuses calls until
//! released, and a channel reconfigured under load loses no call.
#![cfg(feature = "grpc")]
#![allow(missing_docs, clippy::unwrap_used)]

mod common;
mod grpc_support;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chassis::client::ClientBuildError;
use chassis::config::ConfigLoader;
use chassis::discovery::{DiscoveryError, Registry};
use chassis::grpc::GrpcChannel;
use chassis::health::HealthRegistry;
use chassis::service::{Context, Identity, Launcher, ServiceHandle};
use chassis::shutdown::Shutdown;
use chassis_test_echo::pb::SayRequest;
use common::eventually;
use common::live::{TOKEN, admin, config_file, write};
use grpc_support::{EchoClient, EchoService, hits, say};
use http::{Method, StatusCode};
use tonic::Code;

/// The service's own keys at the top of its `default.toml`.
const HEAD: &str = r#"forward_to = "upstream""#;

const WAIT: Duration = Duration::from_secs(10);

/// The echo service the channel calls, counting its calls under `key`.
async fn upstream(key: &str) -> ServiceHandle {
    chassis::service::spawn::<EchoService>([
        ("server.host", "127.0.0.1"),
        ("server.port", "0"),
        ("shutdown.drain_delay", "0s"),
        ("telemetry.log.level", "warn"),
        ("hits_key", key),
    ])
    .await
    .unwrap()
}

/// Starts the echo service reading `dir`: its router makes the channel `upstream`.
async fn start(dir: &Path, watch_files: bool) -> ServiceHandle {
    Launcher::<EchoService>::new()
        .unwrap()
        .set_default("reload.sighup", false)
        .dir(dir)
        .set("reload.watch_files", watch_files)
        .set("server.host", "127.0.0.1")
        .set("server.port", 0)
        .set("server.admin_port", 0)
        .set("server.admin_token", TOKEN)
        .set("shutdown.drain_delay", "0s")
        .spawn()
        .await
        .unwrap()
}

/// A tonic client over the service's own channel `upstream`.
fn client(handle: &ServiceHandle) -> EchoClient<GrpcChannel> {
    EchoClient::new(handle.clients().channel("upstream").unwrap())
}

fn slow(delay_ms: u32) -> SayRequest {
    SayRequest {
        delay_ms,
        ..say("slow")
    }
}

async fn call(client: &EchoClient<GrpcChannel>, request: SayRequest) -> Result<String, Code> {
    let reply = client.clone().say(request).await.map_err(|s| s.code())?;
    Ok(reply.into_inner().message)
}

async fn reload(handle: &ServiceHandle) -> serde_json::Value {
    admin(handle, Method::POST, "/admin/config/reload", None, true)
        .await
        .json()
}

#[tokio::test]
async fn a_channels_timeout_loosened_in_a_watched_file_takes_effect_on_the_next_call() {
    let up = upstream("grpc-live-timeout").await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &config_file(HEAD, up.addr(), "100ms", ""));
    let handle = start(dir.path(), true).await;
    let echo = client(&handle);
    assert_eq!(call(&echo, slow(300)).await, Err(Code::DeadlineExceeded));

    write(dir.path(), &config_file(HEAD, up.addr(), "5s", ""));
    eventually(WAIT, "the file's new timeout", || async {
        let now = handle.reload_handle().effective();
        now.keys["clients.upstream.timeout"].value == "5s"
    })
    .await;
    // The same client, made before the change: the next call takes it.
    assert_eq!(call(&echo, slow(300)).await.as_deref(), Ok("slow"));
    assert_eq!(
        handle
            .clients()
            .channel("upstream")
            .unwrap()
            .config()
            .timeout,
        Some(Duration::from_secs(5))
    );
    handle.shutdown().await;
    up.shutdown().await;
}

#[tokio::test]
async fn a_channels_breaker_forced_open_by_an_operator_refuses_calls_until_released() {
    let up = upstream("grpc-live-breaker").await;
    let upstream_hits = hits("grpc-live-breaker");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &config_file(HEAD, up.addr(), "5s", ""));
    let handle = start(dir.path(), false).await;
    let echo = client(&handle);
    assert_eq!(call(&echo, say("a")).await.as_deref(), Ok("a"));
    let path = "/admin/breakers/grpc:upstream";

    let open = Some(r#"{"state": "forced_open"}"#);
    let refused = admin(&handle, Method::PUT, path, open, false).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&echo, say("a")).await.as_deref(), Ok("a"));

    let forced = admin(&handle, Method::PUT, path, open, true).await;
    assert_eq!(forced.status, StatusCode::OK, "{}", forced.text());
    assert_eq!(forced.json()["name"], "grpc:upstream");
    assert_eq!(forced.json()["state"], "forced_open");
    let before = upstream_hits.load(Ordering::SeqCst);
    assert_eq!(call(&echo, say("a")).await, Err(Code::Unavailable));
    assert_eq!(
        upstream_hits.load(Ordering::SeqCst),
        before,
        "no call reached the server"
    );
    let listed = admin(&handle, Method::GET, "/admin/breakers", None, true)
        .await
        .json();
    let listed = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "grpc:upstream")
        .cloned()
        .unwrap_or_else(|| panic!("no grpc:upstream in {listed}"));
    assert_eq!(listed["state"], "forced_open");
    assert!(listed["rejected_calls"].as_u64().unwrap() >= 1);
    // The channel's name is its own: no HTTP client `upstream` was made.
    let http = admin(&handle, Method::GET, "/admin/breakers/upstream", None, true).await;
    assert_eq!(http.status, StatusCode::NOT_FOUND);

    // A reload that builds a new breaker (another window) keeps the operator's override.
    let window = "[clients.upstream.breaker]\nwindow = { kind = \"count\", size = 30 }\n";
    write(dir.path(), &config_file(HEAD, up.addr(), "5s", window));
    assert_eq!(reload(&handle).await["result"], "applied");
    assert_eq!(call(&echo, say("a")).await, Err(Code::Unavailable));

    let closed = Some(r#"{"state": "closed"}"#);
    let released = admin(&handle, Method::PUT, path, closed, true).await;
    assert_eq!(released.json()["state"], "closed");
    assert_eq!(call(&echo, say("a")).await.as_deref(), Ok("a"));

    let unauthorized = admin(&handle, Method::GET, "/admin/clients", None, false).await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
    let channel = admin(
        &handle,
        Method::GET,
        "/admin/clients/grpc:upstream",
        None,
        true,
    )
    .await
    .json();
    assert_eq!(channel["name"], "grpc:upstream");
    assert_eq!(channel["breaker"]["state"], "closed");
    assert_eq!(channel["endpoints"][0]["address"], up.addr().to_string());
    assert_eq!(channel["endpoints"][0]["ejected"], false);
    let all = admin(&handle, Method::GET, "/admin/clients", None, true)
        .await
        .json();
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "grpc:upstream"),
        "{all}"
    );
    handle.shutdown().await;
    up.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_channel_reconfigured_under_steady_load_loses_no_call() {
    let up = upstream("grpc-live-load").await;
    let upstream_hits = hits("grpc-live-load");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &config_file(HEAD, up.addr(), "5s", ""));
    let handle = start(dir.path(), false).await;
    let echo = client(&handle);

    let callers: Vec<_> = (0..8)
        .map(|_| {
            let echo = echo.clone();
            tokio::spawn(async move {
                let mut failures = Vec::new();
                for _ in 0..40 {
                    if let Err(code) = call(&echo, slow(5)).await {
                        failures.push(code);
                    }
                }
                failures
            })
        })
        .collect();
    for round in 0..12 {
        let (timeout, threshold, size, attempt) = match round % 3 {
            0 => ("4s", "60.0", 100, "3s"),
            1 => ("5s", "50.0", 100, "4s"),
            _ => ("6s", "70.0", 50, "2s"),
        };
        let extra = format!(
            "[clients.upstream.breaker]\nfailure_rate_threshold = {threshold}\n\
             window = {{ kind = \"count\", size = {size} }}\n\
             [clients.upstream.outlier]\nfailure_rate_threshold = {threshold}\n\
             [clients.upstream.bulkhead]\nmax_concurrent = {}\n",
            64 + round
        );
        let text = config_file(HEAD, up.addr(), timeout, &extra).replace(
            "[clients.upstream.retry]",
            &format!("attempt_timeout = \"{attempt}\"\n\n[clients.upstream.retry]"),
        );
        write(dir.path(), &text);
        let report = reload(&handle).await;
        assert_eq!(report["result"], "applied", "{report}");
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    for caller in callers {
        assert_eq!(caller.await.unwrap(), [], "calls lost while reconfiguring");
    }
    assert_eq!(upstream_hits.load(Ordering::SeqCst), 8 * 40);
    let channel = handle.clients().channel("upstream").unwrap();
    assert_eq!(channel.config().timeout, Some(Duration::from_secs(6)));
    handle.shutdown().await;
    up.shutdown().await;
}

#[tokio::test]
async fn a_channel_claims_its_section_and_its_admin_name_is_no_clients() {
    let loaded = ConfigLoader::new("front")
        .unwrap()
        .set("clients.echo-next.timeout", "1s")
        .set("clients.catalgo.timeout", "1s")
        .set("discovery.static.echo-next", "127.0.0.1:9")
        .load::<()>()
        .unwrap();
    let settings = loaded.settings;
    let registry = Registry::from_config(&settings.discovery).unwrap();
    let ctx = Context::new(
        Identity::new("front", "0.1.0"),
        (),
        settings,
        HealthRegistry::new(),
        Shutdown::new(),
        registry,
    );
    let channel = ctx.grpc("echo-next").unwrap();
    assert_eq!(channel.breaker().name(), "grpc:echo-next");
    assert_eq!(ctx.unclaimed_client_sections(), ["catalgo"]);
    // Refused for its name, before discovery is asked.
    assert!(matches!(
        ctx.client("grpc:echo-next"),
        Err(ClientBuildError::Discovery(DiscoveryError::InvalidName(name))) if name == "grpc:echo-next"
    ));
    assert_eq!(
        ctx.clients().breaker("grpc:echo-next").unwrap().name(),
        "grpc:echo-next"
    );
}

#[tokio::test]
async fn a_channels_breaker_keeps_its_state_unless_its_window_changes() {
    let up = upstream("grpc-live-window").await;
    let breaker =
        |threshold: &str, size: u32| -> chassis::resilience::config::ClientResilienceConfig {
            toml::from_str(&format!(
                "[retry]\nmax_attempts = 1\n[breaker]\nminimum_calls = 10\n\
             failure_rate_threshold = {threshold}\nwindow = {{ kind = \"count\", size = {size} }}\n"
            ))
            .unwrap()
        };
    let endpoints = chassis::discovery::Endpoints::fixed(
        "echo",
        [chassis::discovery::Endpoint::new(up.addr())],
    );
    let channel = GrpcChannel::new("echo", &breaker("50.0", 20), endpoints).unwrap();
    let echo = EchoClient::new(channel.clone());
    let unavailable = SayRequest {
        fail: Code::Unavailable as i32,
        ..say("x")
    };
    for _ in 0..4 {
        assert_eq!(
            call(&echo, unavailable.clone()).await,
            Err(Code::Unavailable)
        );
    }
    assert_eq!(channel.breaker().metrics().failed_calls, 4);

    channel.reconfigure(&breaker("80.0", 20)).unwrap();
    assert_eq!(
        channel.breaker().metrics().failed_calls,
        4,
        "a new threshold keeps the window"
    );
    channel.reconfigure(&breaker("80.0", 30)).unwrap();
    assert_eq!(
        channel.breaker().metrics().failed_calls,
        0,
        "a new window starts empty"
    );
    assert_eq!(call(&echo, unavailable).await, Err(Code::Unavailable));
    assert_eq!(channel.breaker().metrics().failed_calls, 1, "and counts");
    up.shutdown().await;
}
