//! `/metrics` against the real tools: `promtool check metrics` accepts the output, and a real
//! Prometheus scraping a running service finds the route template label.
//!
//! Needs Debian's `prometheus` package (`promtool`, `prometheus`); the tests fail, not skip,
//! when the tools are missing.

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::routing::get;
use bytes::Bytes;
use chassis::telemetry::http::ServerTelemetryLayer;
use chassis::telemetry::{install_prometheus, metrics_routes};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::ServiceExt;

fn app() -> Router {
    let metrics = install_prometheus().expect("recorder");
    Router::new()
        .route("/items/{id}", get(|| async { "item" }))
        .merge(metrics_routes(metrics))
        // Last, after every merge: a merged router's default fallback replaces ours, so a
        // layer applied before the merge would not see 404s.
        .layer(ServerTelemetryLayer::new())
}

async fn oneshot(app: &Router, method: Method, uri: &str) -> (StatusCode, String, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("valid request");
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = to_bytes(res.into_body(), 1 << 22).await.expect("body");
    (
        status,
        content_type,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test]
async fn promtool_accepts_the_metrics_output() {
    let app = app();
    oneshot(&app, Method::GET, "/items/1").await;
    oneshot(&app, Method::GET, "/no/such/path").await;
    oneshot(
        &app,
        Method::from_bytes(b"PURGE").expect("token"),
        "/items/2",
    )
    .await;

    let (status, content_type, text) = oneshot(&app, Method::GET, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    for expected in [
        r#"http_server_request_duration_seconds_bucket{http_request_method="GET",http_route="/items/{id}",http_response_status_code="200",le="0.005"}"#,
        r#"http_route="unmatched""#,
        r#"http_request_method="_OTHER""#,
        "# TYPE http_server_request_duration_seconds histogram",
        "http_server_active_requests{",
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_start_time_seconds ",
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool must be installed (apt-get install prometheus); this test does not skip");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = promtool.wait_with_output().expect("promtool ran");
    assert!(
        out.status.success(),
        "promtool rejected /metrics:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn install_is_once_per_process() {
    let first = install_prometheus().expect("recorder");
    let second = install_prometheus().expect("same recorder");
    // Described, as every metric must be: `promtool check metrics` rejects a missing HELP.
    metrics::describe_counter!("chassis_test_installs_total", "Installs seen by this test.");
    metrics::counter!("chassis_test_installs_total").increment(1);
    assert!(first.render().contains("chassis_test_installs_total 1"));
    assert!(second.render().contains("chassis_test_installs_total 1"));
}

/// A child process killed when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_prometheus_scrapes_the_route_template() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let service: SocketAddr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app()).await });

    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: chassis\n    static_configs:\n      - targets: ['{service}']\n"
        ),
    )
    .expect("write config");
    let web = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
    let _prometheus = KillOnDrop(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus must be installed (apt-get install prometheus); this test does not skip"),
    );

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    for id in 1..=5 {
        let res = client
            .get(format!("http://{service}/items/{id}").parse().expect("uri"))
            .await
            .expect("request to the service");
        assert_eq!(res.status(), StatusCode::OK);
    }

    let query: http::Uri =
        format!("http://{web}/api/v1/query?query=http_server_request_duration_seconds_count")
            .parse()
            .expect("uri");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    loop {
        if let Ok(res) = client.get(query.clone()).await {
            let body = res
                .into_body()
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes);
            if let Ok(body) = body {
                last = String::from_utf8_lossy(&body).into_owned();
                if found_route(&last) {
                    break;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no series with http_route=\"/items/{{id}}\" within 30 s; last answer: {last}\nprometheus log:\n{}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    server.abort();
}

/// Whether a query answer holds a series labelled with the route template and GET 200.
fn found_route(answer: &str) -> bool {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(answer) else {
        return false;
    };
    json["data"]["result"].as_array().is_some_and(|series| {
        series.iter().any(|s| {
            s["metric"]["http_route"] == "/items/{id}"
                && s["metric"]["http_request_method"] == "GET"
                && s["metric"]["http_response_status_code"] == "200"
        })
    })
}
