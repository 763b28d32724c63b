//! Behaviour of `chassis::health`: probes, timeouts, caching, panics, the lifecycle latch and
//! the `application/health+json` endpoints.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use chassis::health::{self, CheckResult, DEFAULT_TIMEOUT, HealthRegistry, Probe, Status};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::time::Instant;
use tower::ServiceExt;

/// A check that counts its runs and answers `result` after `delay`.
fn counted(
    runs: &Arc<AtomicUsize>,
    delay: Duration,
    result: CheckResult,
) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = CheckResult> + Send>> + Send + Sync + 'static
{
    let runs = Arc::clone(runs);
    move || {
        runs.fetch_add(1, Ordering::SeqCst);
        let result = result.clone();
        Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            result
        })
    }
}

fn runs() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn count(runs: &Arc<AtomicUsize>) -> usize {
    runs.load(Ordering::SeqCst)
}

/// GETs `path` from the health routes in process.
async fn get(registry: &HealthRegistry, path: &str) -> (StatusCode, HeaderMap, Value) {
    let app: Router = health::routes(registry.clone());
    let request = Request::get(path).body(Body::empty()).expect("request");
    let response = app.oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&bytes).expect("health+json body");
    (parts.status, parts.headers, json)
}

/// The names under `checks`, sorted.
fn names(body: &Value) -> Vec<String> {
    let mut names: Vec<String> = body["checks"]
        .as_object()
        .expect("checks object")
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn body_has_the_draft_format_and_headers() {
    let registry = HealthRegistry::new();
    registry.register("db", Probe::Readiness, || async {
        CheckResult::pass().observed(12, "connections")
    });
    registry.mark_started();
    let before = SystemTime::now() - Duration::from_secs(1);

    let (status, headers, body) = get(&registry, "/health/ready").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/health+json");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(body["status"], "pass");
    assert_eq!(names(&body), ["db", "lifecycle"]);
    let db = &body["checks"]["db"][0];
    assert_eq!(db["status"], "pass");
    assert_eq!(db["observedValue"], 12);
    assert_eq!(db["observedUnit"], "connections");
    assert!(db.get("output").is_none(), "{db}");
    let time = db["time"].as_str().expect("time string");
    assert!(time.ends_with('Z'), "{time}");
    let time = humantime::parse_rfc3339(time).expect("RFC 3339 time");
    assert!(time >= before && time <= SystemTime::now() + Duration::from_secs(1));
    assert_eq!(body["checks"]["lifecycle"][0]["status"], "pass");
}

#[tokio::test]
async fn warn_answers_200_and_fail_503() {
    let registry = HealthRegistry::new();
    registry.mark_started();
    registry.register("disk", Probe::Readiness, || async {
        CheckResult::warn("85% full")
    });
    let (status, _, body) = get(&registry, "/health/ready").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "warn");
    assert_eq!(body["checks"]["disk"][0]["output"], "85% full");

    registry.register("db", Probe::Readiness, || async {
        CheckResult::fail("connection refused")
    });
    let (status, headers, body) = get(&registry, "/health/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::CONTENT_TYPE], "application/health+json");
    assert_eq!(body["status"], "fail");
    assert_eq!(body["checks"]["db"][0]["output"], "connection refused");
    assert_eq!(body["checks"]["disk"][0]["status"], "warn");
}

#[tokio::test(start_paused = true)]
async fn hanging_check_fails_with_timed_out_within_its_timeout() {
    let registry = HealthRegistry::new();
    registry.mark_started();
    let hangs = runs();
    registry
        .register("stuck", Probe::Readiness, {
            let hangs = Arc::clone(&hangs);
            move || {
                hangs.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<CheckResult>()
            }
        })
        .timeout(Duration::from_secs(2));
    registry.register("fine", Probe::Readiness, || async { CheckResult::pass() });

    let start = Instant::now();
    let (status, _, body) = get(&registry, "/health/ready").await;
    let elapsed = start.elapsed();

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_millis(2010),
        "{elapsed:?}"
    );
    assert_eq!(body["checks"]["stuck"][0]["status"], "fail");
    assert_eq!(body["checks"]["stuck"][0]["output"], "timed out");
    assert_eq!(body["checks"]["fine"][0]["status"], "pass");

    // A timed-out run is over: the next probe runs the check again, bounded again.
    let start = Instant::now();
    let report = registry.report(Some(Probe::Readiness)).await;
    assert!(start.elapsed() < Duration::from_millis(2010));
    assert_eq!(
        report.check("stuck").and_then(|c| c.output()),
        Some("timed out")
    );
    assert_eq!(count(&hangs), 2);
}

#[tokio::test(start_paused = true)]
async fn default_timeout_bounds_a_probe() {
    let registry = HealthRegistry::new();
    registry.register(
        "stuck",
        Probe::Liveness,
        std::future::pending::<CheckResult>,
    );

    let start = Instant::now();
    let report = registry.report(Some(Probe::Liveness)).await;

    assert!(start.elapsed() >= DEFAULT_TIMEOUT);
    assert!(start.elapsed() < DEFAULT_TIMEOUT + Duration::from_millis(10));
    assert_eq!(report.status, Status::Fail);
    assert_eq!(
        report.check("stuck").and_then(|c| c.output()),
        Some("timed out")
    );
}

#[tokio::test]
async fn panicking_check_fails_and_spares_the_rest() {
    let registry = HealthRegistry::new();
    registry.mark_started();
    registry.register("panics-when-polled", Probe::Readiness, || async {
        panic!("boom")
    });
    registry.register(
        "panics-when-called",
        Probe::Readiness,
        || -> std::future::Ready<CheckResult> { panic!("bang") },
    );
    registry.register("fine", Probe::Readiness, || async { CheckResult::pass() });

    for _ in 0..2 {
        let (status, _, body) = get(&registry, "/health/ready").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        for name in ["panics-when-polled", "panics-when-called"] {
            assert_eq!(body["checks"][name][0]["status"], "fail", "{body}");
            assert_eq!(body["checks"][name][0]["output"], "panicked", "{body}");
        }
        assert_eq!(body["checks"]["fine"][0]["status"], "pass");
    }
}

#[tokio::test(start_paused = true)]
async fn cached_check_is_not_rerun_within_its_ttl() {
    let registry = HealthRegistry::new();
    let db = runs();
    registry
        .register(
            "db",
            Probe::Liveness,
            counted(&db, Duration::ZERO, CheckResult::pass()),
        )
        .cache_ttl(Duration::from_secs(10));

    let first = registry.report(Some(Probe::Liveness)).await;
    assert_eq!(count(&db), 1);
    let second = registry.report(Some(Probe::Liveness)).await;
    assert_eq!(count(&db), 1);
    // The cached result keeps the time it was produced.
    assert_eq!(
        second.check("db").map(|c| c.time),
        first.check("db").map(|c| c.time)
    );

    tokio::time::advance(Duration::from_millis(9_999)).await;
    registry.report(Some(Probe::Liveness)).await;
    assert_eq!(count(&db), 1);

    tokio::time::advance(Duration::from_millis(1)).await;
    let (status, _, body) = get(&registry, "/health/live").await;
    assert_eq!(count(&db), 2);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["checks"]["db"][0]["status"], "pass");
    registry.report(None).await;
    assert_eq!(count(&db), 2);
}

#[tokio::test(start_paused = true)]
async fn cached_failure_is_reported_until_the_ttl_ends() {
    let registry = HealthRegistry::new();
    let stuck = runs();
    registry
        .register("stuck", Probe::Liveness, {
            let stuck = Arc::clone(&stuck);
            move || {
                stuck.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<CheckResult>()
            }
        })
        .timeout(Duration::from_secs(1))
        .cache_ttl(Duration::from_secs(30));

    assert_eq!(
        registry.report(Some(Probe::Liveness)).await.status,
        Status::Fail
    );
    let start = Instant::now();
    let report = registry.report(Some(Probe::Liveness)).await;
    // Served from the cache: no second wait for the timeout.
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(
        report.check("stuck").and_then(|c| c.output()),
        Some("timed out")
    );
    assert_eq!(count(&stuck), 1);
}

#[tokio::test(start_paused = true)]
async fn uncached_check_runs_on_every_probe() {
    let registry = HealthRegistry::new();
    let db = runs();
    registry.register(
        "db",
        Probe::Liveness,
        counted(&db, Duration::ZERO, CheckResult::pass()),
    );
    for expected in 1..=3 {
        registry.report(Some(Probe::Liveness)).await;
        assert_eq!(count(&db), expected);
    }
}

#[tokio::test(start_paused = true)]
async fn concurrent_probes_share_one_run() {
    let registry = HealthRegistry::new();
    registry.mark_started();
    let db = runs();
    registry
        .register(
            "db",
            Probe::Readiness | Probe::Startup,
            counted(&db, Duration::from_secs(1), CheckResult::pass()),
        )
        .timeout(Duration::from_secs(5));

    let start = Instant::now();
    let (a, b, c) = tokio::join!(
        registry.report(Some(Probe::Readiness)),
        registry.report(Some(Probe::Startup)),
        get(&registry, "/health/ready"),
    );
    assert_eq!(count(&db), 1);
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(a.status, Status::Pass);
    assert_eq!(b.status, Status::Pass);
    assert_eq!(c.0, StatusCode::OK);

    // Without a cache the next probe runs the check again.
    registry.report(Some(Probe::Readiness)).await;
    assert_eq!(count(&db), 2);
}

#[tokio::test(start_paused = true)]
async fn checks_of_a_probe_run_concurrently() {
    let registry = HealthRegistry::new();
    let all = runs();
    for name in ["a", "b", "c"] {
        registry
            .register(
                name,
                Probe::Liveness,
                counted(&all, Duration::from_millis(400), CheckResult::pass()),
            )
            .timeout(Duration::from_secs(1));
    }
    let start = Instant::now();
    let report = registry.report(Some(Probe::Liveness)).await;
    assert_eq!(start.elapsed(), Duration::from_millis(400));
    assert_eq!(count(&all), 3);
    assert_eq!(report.status, Status::Pass);
    assert_eq!(report.checks.len(), 3);
}

#[tokio::test]
async fn readiness_follows_start_up_and_shutdown() {
    let registry = HealthRegistry::new();
    let db = runs();
    registry.register(
        "db",
        Probe::Readiness,
        counted(&db, Duration::ZERO, CheckResult::pass()),
    );

    // Starting: readiness and startup fail, naming the reason; the checks still report.
    for path in ["/health/ready", "/health/startup", "/health"] {
        let (status, _, body) = get(&registry, path).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(body["checks"]["lifecycle"][0]["status"], "fail", "{path}");
        assert_eq!(
            body["checks"]["lifecycle"][0]["output"], "starting",
            "{path}"
        );
    }
    assert_eq!(count(&db), 2); // ready and /health; db is not a startup check

    registry.mark_started();
    for path in ["/health/ready", "/health/startup", "/health"] {
        let (status, _, body) = get(&registry, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body["checks"]["lifecycle"][0]["status"], "pass", "{path}");
    }
    assert_eq!(count(&db), 4);

    registry.mark_stopping();
    let (status, _, body) = get(&registry, "/health/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["checks"]["lifecycle"][0]["output"], "shutting down");
    // Immediately: the readiness checks are not even run.
    assert_eq!(names(&body), ["lifecycle"]);
    assert_eq!(count(&db), 4);
    // Start-up did complete.
    assert_eq!(get(&registry, "/health/startup").await.0, StatusCode::OK);

    // For good.
    registry.mark_started();
    assert_eq!(
        get(&registry, "/health/ready").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        get(&registry, "/health").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn liveness_ignores_the_latch_and_readiness_checks() {
    let registry = HealthRegistry::new();
    let db = runs();
    let heartbeat = runs();
    registry.register(
        "db",
        Probe::Readiness,
        counted(&db, Duration::ZERO, CheckResult::fail("down")),
    );
    registry.register(
        "heartbeat",
        Probe::Liveness,
        counted(&heartbeat, Duration::ZERO, CheckResult::pass()),
    );

    let (status, _, body) = get(&registry, "/health/live").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&body), ["heartbeat"]);

    registry.mark_started();
    registry.mark_stopping();
    let (status, _, body) = get(&registry, "/health/live").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&body), ["heartbeat"]);

    assert_eq!(count(&db), 0);
    assert_eq!(count(&heartbeat), 2);
}

#[tokio::test]
async fn liveness_without_checks_passes_with_no_checks() {
    let registry = HealthRegistry::new();
    let (status, _, body) = get(&registry, "/health/live").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!({"status": "pass", "checks": {}}));
}

#[tokio::test]
async fn a_check_tagged_for_two_probes_answers_both() {
    let registry = HealthRegistry::new();
    registry.mark_started();
    let db = runs();
    registry.register(
        "db",
        [Probe::Readiness, Probe::Startup],
        counted(&db, Duration::ZERO, CheckResult::warn("slow")),
    );
    registry.register("dashboard-only", &[][..], || async { CheckResult::pass() });

    let (_, _, ready) = get(&registry, "/health/ready").await;
    let (_, _, startup) = get(&registry, "/health/startup").await;
    let (_, _, live) = get(&registry, "/health/live").await;
    let (status, _, all) = get(&registry, "/health").await;

    assert_eq!(names(&ready), ["db", "lifecycle"]);
    assert_eq!(names(&startup), ["db", "lifecycle"]);
    assert_eq!(names(&live), Vec::<String>::new());
    assert_eq!(names(&all), ["dashboard-only", "db", "lifecycle"]);
    // Once per report, even in the report of all checks.
    assert_eq!(all["checks"]["db"].as_array().map(Vec::len), Some(1));
    assert_eq!(count(&db), 3);
    assert_eq!(
        (status, &all["status"]),
        (StatusCode::OK, &Value::from("warn"))
    );
}

#[tokio::test]
async fn serves_health_json_over_loopback_http() {
    let registry = HealthRegistry::new();
    registry.register("db", Probe::Readiness, || async { CheckResult::pass() });
    registry.mark_started();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server =
        tokio::spawn(axum::serve(listener, health::routes(registry.clone())).into_future());
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();

    let fetch = |path: &'static str| {
        let client = client.clone();
        async move {
            let uri = format!("http://{addr}{path}").parse().expect("uri");
            let response = client.get(uri).await.expect("response");
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await.expect("body").to_bytes();
            (
                parts,
                serde_json::from_slice::<Value>(&bytes).expect("json"),
            )
        }
    };

    let (parts, body) = fetch("/health/ready").await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(
        parts.headers[header::CONTENT_TYPE],
        "application/health+json"
    );
    assert_eq!(parts.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(body["status"], "pass");
    assert_eq!(body["checks"]["db"][0]["status"], "pass");

    registry.mark_stopping();
    let (parts, body) = fetch("/health/ready").await;
    assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["checks"]["lifecycle"][0]["output"], "shutting down");
    let (parts, _) = fetch("/health/live").await;
    assert_eq!(parts.status, StatusCode::OK);

    server.abort();
}
