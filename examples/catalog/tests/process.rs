//! The catalog binary as an operator runs it: configuration from the environment, probes,
//! a SIGTERM while a request is in flight, and gRPC health through the drain.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use catalog::pb::GetItemRequest;
use catalog::pb::catalog_client::CatalogClient;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const BOUND: Duration = Duration::from_secs(20);

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn catalog(env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_catalog"));
    command
        .env_clear()
        .env("CATALOG__SERVER__HOST", "127.0.0.1")
        .env("CATALOG__TELEMETRY__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get(port: u16, path: &str) -> Result<(u16, String, String), String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri = format!("http://127.0.0.1:{port}{path}");
    let response = client
        .get(uri.parse().unwrap())
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok((
        status,
        content_type,
        String::from_utf8_lossy(&body.to_bytes()).into_owned(),
    ))
}

async fn wait_for_status(port: u16, path: &str, status: u16) {
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        if matches!(get(port, path).await, Ok((s, _, _)) if s == status) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never answered {status}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn bad_port_exits_non_zero_before_binding_and_names_the_variable() {
    let output = catalog(&[("CATALOG__SERVER__PORT", "abc")])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("CATALOG__SERVER__PORT"), "{stderr}");
    assert!(stderr.contains("server.port"), "{stderr}");
}

#[tokio::test]
async fn serves_items_and_health_then_drains_on_sigterm() {
    let port = free_port();
    let port_text = port.to_string();
    let child = catalog(&[
        ("CATALOG__SERVER__PORT", &port_text),
        ("CATALOG__FAULTS__ENABLED", "true"),
        ("CATALOG__FAULTS__LATENCY", "1s"),
        ("CATALOG__SHUTDOWN__DRAIN_DELAY", "1s"),
    ])
    .spawn()
    .unwrap();
    let mut running = Running(child);
    wait_for_status(port, "/health/ready", 200).await;

    let (status, content_type, body) = get(port, "/health/ready").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/health+json");
    assert!(body.contains(r#""status":"pass""#), "{body}");

    // A request in flight (held by the injected latency) when SIGTERM arrives. Even if it
    // reaches the server just after the signal, the drain delay still accepts it.
    let in_flight = tokio::spawn(get(port, "/items"));
    let pid = running.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );

    wait_for_status(port, "/health/ready", 503).await;
    let (status, content_type, body) = in_flight.await.unwrap().unwrap();
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let items: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(items.as_array().is_some_and(|items| !items.is_empty()));

    let exit = exit_within(&mut running, BOUND).await;
    assert!(exit.success(), "exit status {exit}");
}

/// Two SIGTERMs microseconds apart: every catalog exits at once with 130, long before its
/// 30 s drain delay is over. Several processes, because a lost second signal was a race
/// (lost in about one run in five), which one process might win.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_second_sigterm_right_after_the_first_exits_at_once_with_130() {
    const PROCESSES: usize = 10;
    let mut catalogs = Vec::new();
    for _ in 0..PROCESSES {
        let port = free_port();
        let child = catalog(&[
            ("CATALOG__SERVER__PORT", &port.to_string()),
            ("CATALOG__SHUTDOWN__DRAIN_DELAY", "30s"),
        ])
        .spawn()
        .unwrap();
        catalogs.push((port, Running(child)));
    }
    for (port, _) in &catalogs {
        wait_for_status(*port, "/health/ready", 200).await;
    }
    for (_, running) in &catalogs {
        two_sigterms(running.0.id());
    }
    for (_, mut running) in catalogs {
        // Well before the 30 s drain delay is over.
        let exit = exit_within(&mut running, Duration::from_secs(10)).await;
        assert_eq!(exit.code(), Some(130), "exit status {exit}");
    }
}

/// Sends SIGTERM to `pid`, and another the moment the kernel has delivered the first: when
/// the SIGTERM bit (15, `0x4000`) of `ShdPnd` in `/proc/PID/status` clears, some
/// microseconds later.
///
/// Why wait for delivery: the kernel keeps at most one pending SIGTERM, so a second one sent
/// before the first was delivered is merged into it, and no process can see it. Back to
/// back (`kill -TERM $pid; kill -TERM $pid`) that happens about seven times in ten.
#[cfg(target_os = "linux")]
fn two_sigterms(pid: u32) {
    use rustix::process::{Pid, Signal, kill_process};
    let pid = Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
    let status = format!("/proc/{}/status", pid.as_raw_nonzero());
    let pending = || {
        let text = std::fs::read_to_string(&status).unwrap();
        let mask = text
            .lines()
            .find_map(|line| line.strip_prefix("ShdPnd:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .unwrap();
        mask & (1 << (15 - 1)) != 0
    };
    kill_process(pid, Signal::TERM).unwrap();
    let deadline = std::time::Instant::now() + BOUND;
    while pending() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first SIGTERM was never delivered"
        );
    }
    kill_process(pid, Signal::TERM).unwrap();
}

/// The exit status of `running`, failing when it has not exited within `bound`.
async fn exit_within(running: &mut Running, bound: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + bound;
    loop {
        if let Some(exit) = running.0.try_wait().unwrap() {
            return exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "catalog did not exit within {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn unknown_item_is_a_404_problem() {
    let port = free_port();
    let port_text = port.to_string();
    let _running = Running(
        catalog(&[("CATALOG__SERVER__PORT", &port_text)])
            .spawn()
            .unwrap(),
    );
    wait_for_status(port, "/health/ready", 200).await;
    let (status, content_type, body) = get(port, "/items/nope").await.unwrap();
    assert_eq!(
        (status, content_type.as_str()),
        (404, "application/problem+json")
    );
    assert!(body.contains("nope"));
    let (status, _, body) = get(port, "/items/espresso").await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("price_cents"));
    let (status, _, body) = get(port, "/info").await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains(r#""name":"catalog""#));
}

/// Starts catalog on a port of its own choosing (`0`) and answers the address its log says it
/// bound; the rest of its log is drained on a thread.
fn catalog_on_any_port(env: &[(&str, &str)]) -> (Running, SocketAddr) {
    let mut command = catalog(env);
    command
        .env("CATALOG__SERVER__PORT", "0")
        .env("CATALOG__TELEMETRY__LOG__LEVEL", "info")
        .stdout(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut log = BufReader::new(child.stdout.take().unwrap()).lines();
    let running = Running(child);
    let addr = log
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            let started = line.contains("service started");
            let addr = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("addr="));
            addr.filter(|_| started)
                .map(|a| a.parse::<SocketAddr>().unwrap())
        })
        .expect("catalog logs the address it bound");
    std::thread::spawn(move || log.for_each(drop));
    (running, addr)
}

/// `future`'s output, failing the test when it takes longer than [`BOUND`].
async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(BOUND, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {BOUND:?}"))
}

fn asked(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

async fn status(health: &mut HealthClient<tonic::transport::Channel>, service: &str) -> i32 {
    let reply = health.check(asked(service)).await.unwrap();
    reply.into_inner().status
}

async fn espresso(channel: tonic::transport::Channel) -> Result<String, tonic::Status> {
    let request = GetItemRequest {
        id: "espresso".to_owned(),
    };
    let item = CatalogClient::new(channel).get_item(request).await?;
    Ok(item.into_inner().name)
}

/// The real process and a real SIGTERM: `grpc.health.v1` says NOT_SERVING at once, to
/// `Check` and to a `Watch` already open, while the drain delay still serves gRPC calls, on
/// the open connection and on a new one; when the drain is over the watch ends and catalog
/// exits 0.
#[tokio::test]
async fn grpc_health_turns_not_serving_at_sigterm_while_the_drain_delay_still_serves() {
    let (mut running, addr) = catalog_on_any_port(&[("CATALOG__SHUTDOWN__DRAIN_DELAY", "10s")]);
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap();
    let channel = within("connecting", endpoint.connect()).await.unwrap();
    let mut health = HealthClient::new(channel.clone());
    let serving = ServingStatus::Serving as i32;
    let not_serving = ServingStatus::NotServing as i32;
    let deadline = tokio::time::Instant::now() + BOUND;
    while status(&mut health, "").await != serving {
        assert!(tokio::time::Instant::now() < deadline, "never SERVING");
        tokio::task::yield_now().await;
    }
    assert_eq!(status(&mut health, "catalog.v1.Catalog").await, serving);
    let mut watch = health
        .watch(asked("catalog.v1.Catalog"))
        .await
        .unwrap()
        .into_inner();
    let first: HealthCheckResponse = within("the watch", watch.message()).await.unwrap().unwrap();
    assert_eq!(first.status, serving);

    let pid = running.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());

    let flipped = within("the watch after SIGTERM", watch.message()).await;
    assert_eq!(flipped.unwrap().unwrap().status, not_serving);
    assert_eq!(status(&mut health, "").await, not_serving);
    assert_eq!(status(&mut health, "catalog.v1.Catalog").await, not_serving);
    // Still served through the drain delay: on the open connection and on a new one.
    let name = within("a call", espresso(channel.clone())).await.unwrap();
    assert_eq!(name, "Espresso beans, 1 kg");
    let fresh = within("connecting again", endpoint.connect())
        .await
        .unwrap();
    assert_eq!(
        status(&mut HealthClient::new(fresh.clone()), "").await,
        not_serving
    );
    let name = within("a call on a new connection", espresso(fresh))
        .await
        .unwrap();
    assert_eq!(name, "Espresso beans, 1 kg");

    // The drain over, the watch ends (it holds nothing until the grace period) and the
    // process exits 0.
    let ended = within("the end of the watch", watch.message()).await;
    assert_eq!(ended.unwrap_err().code(), tonic::Code::Unavailable);
    let exit = exit_within(&mut running, BOUND).await;
    assert!(exit.success(), "exit status {exit}");
}
