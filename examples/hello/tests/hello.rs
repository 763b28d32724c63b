//! The README's service, built and run as a user runs it: the `hello` binary against a
//! catalog, answering its decoded call; and, with catalog gone, a problem answer with the
//! request id and nothing internal.

#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const BOUND: Duration = Duration::from_secs(30);

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn get(port: u16, path: &str) -> Option<(u16, String, Option<String>)> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri = format!("http://127.0.0.1:{port}{path}").parse().unwrap();
    let response = client.get(uri).await.ok()?;
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.ok()?.to_bytes();
    Some((status, String::from_utf8_lossy(&body).into_owned(), id))
}

#[tokio::test]
async fn hello_greets_with_what_catalog_answers() {
    let catalog = chassis::service::spawn::<catalog::Catalog>([
        ("server.host", "127.0.0.1"),
        ("server.port", "0"),
        ("shutdown.drain_delay", "0s"),
        ("telemetry.log.level", "warn"),
    ])
    .await
    .unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_hello"))
        .env_clear()
        .env("HELLO__SERVER__HOST", "127.0.0.1")
        .env("HELLO__SERVER__PORT", port.to_string())
        .env("HELLO__SHUTDOWN__DRAIN_DELAY", "0s")
        .env("HELLO__TELEMETRY__LOG__LEVEL", "warn")
        .env(
            "HELLO__DISCOVERY__STATIC__CATALOG",
            format!("127.0.0.1:{}", catalog.addr().port()),
        )
        .env("HELLO__GREETING", "Hi")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let _hello = Running(child);
    let deadline = Instant::now() + BOUND;
    let ready = loop {
        if let Some(ready) = get(port, "/health/ready").await {
            break ready;
        }
        assert!(Instant::now() < deadline, "hello never answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(ready.0, 200, "{}", ready.1);
    assert!(
        ready.1.contains("\"catalog\""),
        "its readiness check: {}",
        ready.1
    );

    let (status, body, _) = get(port, "/hello/espresso").await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "\"Hi, Espresso beans, 1 kg!\"")
    );
    // An item catalog does not have: catalog's 404 is a failed call, answered 502.
    let (status, body, id) = get(port, "/hello/no-such-item").await.unwrap();
    assert_eq!(status, 502, "{body}");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["request_id"].as_str(), id.as_deref());

    catalog.shutdown().await;
    let (status, body, _) = get(port, "/hello/espresso").await.unwrap();
    assert!(status == 502 || status == 503, "{status} {body}");
    assert!(!body.contains("127.0.0.1"), "no internal text: {body}");
}
