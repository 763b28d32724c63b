//! The shutdown sequence over real connections: nothing accepted is lost, readiness fails
//! during the drain delay, new connections are refused after it, the grace period bounds
//! everything, hooks run in reverse.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{client, eventually, get, send, spawn};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOUND: Duration = Duration::from_secs(15);

#[tokio::test]
async fn readiness_passes_after_start_and_fails_from_the_first_moment_of_shutdown() {
    let service = spawn(&[("shutdown.drain_delay", "500ms")]).await;
    let addr = service.addr();
    assert_eq!(get(addr, "/health/ready").await.status, StatusCode::OK);
    service.shutdown_handle().trigger();
    // At once, and while the drain delay lasts, readiness fails but requests are served.
    let ready = get(addr, "/health/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json()["status"], "fail");
    assert_eq!(get(addr, "/health/live").await.status, StatusCode::OK);
    assert_eq!(get(addr, "/hello").await.status, StatusCode::OK);
    tokio::time::timeout(BOUND, service.stopped())
        .await
        .unwrap();
}

#[tokio::test]
async fn shutdown_under_load_loses_no_accepted_request() {
    let service = spawn(&[
        ("shutdown.drain_delay", "300ms"),
        ("shutdown.grace_period", "10s"),
    ])
    .await;
    let addr = service.addr();
    let key = "under-load";
    let completed = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..60 {
        let completed = Arc::clone(&completed);
        clients.push(tokio::spawn(async move {
            let http = client();
            loop {
                let request = Request::get(format!("http://{addr}/work/{key}"))
                    .body(Full::default())
                    .unwrap();
                let Ok(response) = http.request(request).await else {
                    // Refused, or a keep-alive connection closed under a request the server
                    // never read: the client ends. Whether the server had accepted it is
                    // checked below, from the server's own count.
                    return;
                };
                // A response that started must arrive whole.
                assert_eq!(response.status(), StatusCode::OK);
                let body = response.into_body().collect().await.expect("full body");
                assert_eq!(body.to_bytes(), "worked");
                completed.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    eventually(BOUND, "load to build up", || async {
        completed.load(Ordering::SeqCst) > 200
    })
    .await;
    let before = completed.load(Ordering::SeqCst);
    service.shutdown_handle().trigger();
    assert_eq!(
        get(addr, "/health/ready").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let report = tokio::time::timeout(BOUND, service.stopped())
        .await
        .unwrap();
    assert_eq!(report.cut_connections, 0);
    for task in clients {
        tokio::time::timeout(BOUND, task).await.unwrap().unwrap();
    }
    let accepted = common::hits(key).load(Ordering::SeqCst);
    let completed = completed.load(Ordering::SeqCst);
    assert!(completed > before, "served during the drain delay");
    assert_eq!(
        accepted, completed,
        "every request the server accepted was answered in full"
    );
    // After the drain, the port refuses new connections.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn new_connections_are_refused_after_the_drain_delay() {
    let service = spawn(&[("shutdown.drain_delay", "200ms")]).await;
    let addr = service.addr();
    service.shutdown_handle().trigger();
    // Still accepting during the drain delay.
    assert!(TcpStream::connect(addr).await.is_ok());
    eventually(BOUND, "connections to be refused", || async {
        TcpStream::connect(addr).await.is_err()
    })
    .await;
    tokio::time::timeout(BOUND, service.stopped())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_request_longer_than_the_grace_period_is_cut_and_shutdown_completes() {
    let service = spawn(&[("shutdown.grace_period", "300ms")]).await;
    let addr = service.addr();
    let stuck = tokio::spawn(async move {
        let request = Request::get(format!("http://{addr}/gate/never-opens"))
            .body(Full::default())
            .unwrap();
        send(&client(), request).await
    });
    eventually(BOUND, "the stuck request to be in flight", || async {
        // Port still accepts and the stuck request holds a connection.
        get(addr, "/hello").await.status == StatusCode::OK
    })
    .await;
    let done = Arc::new(Mutex::new(Vec::new()));
    let order = Arc::clone(&done);
    service
        .shutdown_handle()
        .on_shutdown("after cut", move || async move {
            order.lock().unwrap().push("hook");
        });
    let report = tokio::time::timeout(BOUND, service.shutdown())
        .await
        .unwrap();
    assert_eq!(report.cut_connections, 1);
    assert_eq!(
        *done.lock().unwrap(),
        ["hook"],
        "hooks still run after a cut"
    );
    assert!(
        stuck.await.unwrap().is_err(),
        "the cut request fails on the client"
    );
}

#[tokio::test]
async fn an_open_sse_stream_and_an_idle_keep_alive_do_not_hold_the_process() {
    let service = spawn(&[("shutdown.grace_period", "300ms")]).await;
    let addr = service.addr();

    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    let mut sse = TcpStream::connect(addr).await.unwrap();
    sse.write_all(b"GET /sse HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let n = sse.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("text/event-stream"));

    let report = tokio::time::timeout(BOUND, service.shutdown())
        .await
        .unwrap();
    assert_eq!(report.cut_connections, 1, "only the endless stream is cut");
    // The idle keep-alive connection was closed, not left dangling.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(BOUND, idle.read_to_end(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(_) | Err(_))),
        "idle connection closed"
    );
}

#[tokio::test]
async fn a_stream_that_watches_draining_ends_cleanly() {
    let service = spawn(&[("shutdown.grace_period", "10s")]).await;
    let addr = service.addr();
    let mut sse = TcpStream::connect(addr).await.unwrap();
    sse.write_all(b"GET /sse-graceful HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 256];
    let _ = sse.read(&mut first).await.unwrap();
    let report = tokio::time::timeout(BOUND, service.shutdown())
        .await
        .unwrap();
    assert_eq!(report.cut_connections, 0, "the stream ended on its own");
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(BOUND, sse.read_to_end(&mut rest)).await;
    assert!(ended.is_ok());
    // The chunked body was terminated properly.
    assert!(String::from_utf8_lossy(&rest).ends_with("0\r\n\r\n"));
}

#[tokio::test]
async fn hooks_run_in_reverse_order_each_bounded() {
    let service = spawn(&[("shutdown.hook_timeout", "100ms")]).await;
    let order = Arc::new(Mutex::new(Vec::new()));
    for name in ["first", "second", "third"] {
        let order = Arc::clone(&order);
        service
            .shutdown_handle()
            .on_shutdown(name, move || async move {
                order.lock().unwrap().push(name);
            });
    }
    service
        .shutdown_handle()
        .on_shutdown("hangs", std::future::pending::<()>);
    let report = tokio::time::timeout(BOUND, service.shutdown())
        .await
        .unwrap();
    assert_eq!(*order.lock().unwrap(), ["third", "second", "first"]);
    assert_eq!(report.hooks.timed_out, ["hangs"]);
    // The chassis' own hook, registered at start-up, runs last: the queued log lines are
    // written after every other hook has logged.
    assert_eq!(
        report.hooks.finished,
        ["third", "second", "first", "flush logs"]
    );
}

/// Callers looping over kept-alive HTTP/1 connections lose nothing across a shutdown: from
/// the trigger on, answers carry `Connection: close`, so each caller stops using its
/// connection before the server closes it. Each caller has exactly one connection (no pool
/// to reconnect behind its back) and sends on it until told to close: every request it sent
/// must be answered in full, and it never needs a new connection after the drain.
#[tokio::test]
async fn kept_alive_callers_are_told_to_close_during_the_drain_and_lose_nothing() {
    const CALLERS: usize = 8;
    let service = spawn(&[
        ("shutdown.drain_delay", "500ms"),
        ("shutdown.grace_period", "10s"),
    ])
    .await;
    let addr = service.addr();
    let answered = Arc::new(AtomicUsize::new(0));
    let mut callers = Vec::new();
    for _ in 0..CALLERS {
        let answered = Arc::clone(&answered);
        callers.push(tokio::spawn(async move {
            let mut connection = KeptAlive::open(addr).await;
            loop {
                let (text, close) = connection.get("/hello").await?;
                if text != "hello" {
                    return Err(format!("answered {text:?}"));
                }
                answered.fetch_add(1, Ordering::SeqCst);
                if close {
                    return Ok(());
                }
            }
        }));
    }
    eventually(BOUND, "load to build up", || async {
        answered.load(Ordering::SeqCst) > 20 * CALLERS
    })
    .await;
    service.shutdown_handle().trigger();
    for caller in callers {
        let ended = tokio::time::timeout(BOUND, caller).await.unwrap().unwrap();
        assert_eq!(
            ended,
            Ok(()),
            "a request on a kept-alive connection was lost"
        );
    }
    let report = tokio::time::timeout(BOUND, service.stopped())
        .await
        .unwrap();
    assert_eq!(report.cut_connections, 0);
}

/// One HTTP/1 connection, kept alive, never replaced.
struct KeptAlive {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
}

impl KeptAlive {
    async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        Self {
            sender,
            host: addr.to_string(),
        }
    }

    /// The answer's body, and whether it says `Connection: close`; an error when the
    /// connection closed under the request or the answer did not arrive whole.
    async fn get(&mut self, path: &str) -> Result<(String, bool), String> {
        let request = Request::get(path)
            .header(http::header::HOST, &self.host)
            .body(Full::default())
            .unwrap();
        self.sender
            .ready()
            .await
            .map_err(|e| format!("the connection closed between requests: {e}"))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| format!("the request was lost: {e}"))?;
        if response.status() != StatusCode::OK {
            return Err(format!("answered {}", response.status()));
        }
        let close = response
            .headers()
            .get(http::header::CONNECTION)
            .is_some_and(|value| value == "close");
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("the answer was cut: {e}"))?;
        Ok((
            String::from_utf8_lossy(&body.to_bytes()).into_owned(),
            close,
        ))
    }
}

#[tokio::test]
async fn the_admin_port_serves_health_and_metrics_until_the_hooks_have_run() {
    let service = spawn(&[("server.admin_port", "0"), ("shutdown.hook_timeout", "10s")]).await;
    let (addr, admin) = (service.addr(), service.admin_addr().unwrap());
    assert_eq!(get(addr, "/hello").await.status, StatusCode::OK);
    let (hook_started, started) = tokio::sync::oneshot::channel();
    let release = Arc::new(tokio::sync::Notify::new());
    let held = Arc::clone(&release);
    service
        .shutdown_handle()
        .on_shutdown("final scrape", move || async move {
            let _ = hook_started.send(());
            held.notified().await;
        });
    let stopping = tokio::spawn(service.shutdown());
    tokio::time::timeout(BOUND, started).await.unwrap().unwrap();
    // The hooks are running: the service port is closed, the admin port still answers.
    assert!(TcpStream::connect(addr).await.is_err());
    let ready = get(admin, "/health/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get(admin, "/health/live").await.status, StatusCode::OK);
    let metrics = get(admin, "/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics.text().contains(r#"http_route="/hello""#),
        "the final scrape sees the requests served"
    );
    release.notify_one();
    let report = tokio::time::timeout(BOUND, stopping)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.hooks.finished, ["final scrape", "flush logs"]);
    assert!(
        TcpStream::connect(admin).await.is_err(),
        "the admin port closes once the hooks have run"
    );
}

/// A registry that accepts connections and never answers: deregistering takes as long as
/// its timeouts allow, and must not hold back the drain.
#[cfg(feature = "etcd")]
#[tokio::test]
async fn a_registry_that_never_answers_does_not_hold_back_the_drain() {
    let registry = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", registry.local_addr().unwrap());
    let service = spawn(&[
        ("discovery.backend", "etcd"),
        ("discovery.etcd.endpoints", endpoint.as_str()),
        ("discovery.etcd.connect_timeout", "5s"),
        ("discovery.etcd.request_timeout", "5s"),
        ("shutdown.drain_delay", "300ms"),
        ("shutdown.hook_timeout", "300ms"),
    ])
    .await;
    let addr = service.addr();
    // Registering has begun once readiness passed: its connection reaches the registry.
    let (_unanswered, _) = tokio::time::timeout(BOUND, registry.accept())
        .await
        .unwrap()
        .unwrap();
    let triggered = std::time::Instant::now();
    service.shutdown_handle().trigger();
    eventually(BOUND, "connections to be refused", || async {
        TcpStream::connect(addr).await.is_err()
    })
    .await;
    // Before, the drain began after the registry's 5 s timeout.
    let drained = triggered.elapsed();
    assert!(
        drained < Duration::from_secs(3),
        "the drain delay ended {drained:?} after the trigger"
    );
    tokio::time::timeout(BOUND, service.stopped())
        .await
        .unwrap();
}

#[tokio::test]
async fn dropping_the_handle_begins_a_graceful_shutdown_that_runs_to_completion() {
    let service = spawn(&[("shutdown.drain_delay", "300ms")]).await;
    let addr = service.addr();
    let (hook_ran, ran) = tokio::sync::oneshot::channel();
    service
        .shutdown_handle()
        .on_shutdown("last", move || async move {
            let _ = hook_ran.send(());
        });
    let shutdown = service.shutdown_handle().clone();
    drop(service);
    assert!(
        shutdown.is_triggered(),
        "dropping the handle begins shutdown"
    );
    // The graceful sequence: readiness fails while the drain delay still serves...
    let ready = get(addr, "/health/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get(addr, "/hello").await.status, StatusCode::OK);
    // ...and it runs on without the handle, through the hooks.
    tokio::time::timeout(BOUND, ran).await.unwrap().unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
}

/// A program that builds its own server (plain `axum::serve`) runs the same sequence:
/// readiness fails at the trigger while the server still serves, deregistration runs, the
/// server stops after the drain delay, the hooks run in reverse.
#[tokio::test]
async fn a_program_with_its_own_server_runs_the_same_sequence() {
    use std::future::IntoFuture;

    use chassis::config::ShutdownConfig;
    use chassis::health::HealthRegistry;
    use chassis::shutdown::{Sequence, Shutdown};

    let (shutdown, health) = (Shutdown::new(), HealthRegistry::new());
    health.mark_started();
    let app = axum::Router::new()
        .route("/hello", axum::routing::get(|| async { "hello" }))
        .merge(chassis::health::routes(health.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let draining = shutdown.clone();
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { draining.draining().await })
            .into_future(),
    );
    let order = Arc::new(Mutex::new(Vec::new()));
    for name in ["first", "second"] {
        let order = Arc::clone(&order);
        shutdown.on_shutdown(
            name,
            move || async move { order.lock().unwrap().push(name) },
        );
    }
    let deregistered = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&deregistered);
    let timing = ShutdownConfig {
        drain_delay: Duration::from_millis(300),
        grace_period: Duration::from_secs(2),
        hook_timeout: Duration::from_secs(1),
    };
    let sequence =
        tokio::spawn(
            Sequence::new(shutdown.clone(), &timing)
                .health(&health)
                .deregister(async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                })
                .stop(|grace| async move {
                    usize::from(tokio::time::timeout(grace, server).await.is_err())
                })
                .run(),
        );
    assert_eq!(get(addr, "/health/ready").await.status, StatusCode::OK);
    shutdown.trigger();
    assert_eq!(
        get(addr, "/health/ready").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        get(addr, "/hello").await.status,
        StatusCode::OK,
        "still serving"
    );
    let report = tokio::time::timeout(BOUND, sequence)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.cut_connections, 0);
    assert_eq!(*order.lock().unwrap(), ["second", "first"]);
    assert_eq!(deregistered.load(Ordering::SeqCst), 1);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}
