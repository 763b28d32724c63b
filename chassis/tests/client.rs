//! The resilient client against real services over loopback: balancing, outlier ejection,
//! the retry budget, deadlines across two hops, a rolling restart with zero failures.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chassis::client::{HttpClient, Reply, Route};
use chassis::discovery::{Endpoint, EndpointSet, Endpoints, Publisher};
use chassis::resilience::breaker::State;
use chassis::resilience::config::ClientResilienceConfig;
use common::{flag, get, hits, spawn};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};

const BOUND: Duration = Duration::from_secs(20);

fn set(addrs: &[std::net::SocketAddr]) -> EndpointSet {
    EndpointSet::new(addrs.iter().map(|addr| Endpoint::new(*addr)))
}

/// A live endpoint set the test controls, as discovery would publish it.
fn live(addrs: &[std::net::SocketAddr]) -> (Publisher, Endpoints) {
    let (publisher, endpoints) = Publisher::channel("test", "svc");
    publisher.publish(set(addrs));
    (publisher, endpoints)
}

async fn text(response: http::Response<axum::body::Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// How long an ejected endpoint waits for its trial call in these tests.
const EJECTED_FOR: Duration = Duration::from_millis(300);

fn quick_outlier_ejection(config: &mut ClientResilienceConfig) {
    // Two failures eject: after each, the balancer sends an endpoint that failed fewer
    // draws (its latency estimate doubles) until the estimate decays again.
    config.outlier.minimum_calls = 2;
    config.outlier.window.size = 4;
    config.outlier.wait_in_open = EJECTED_FOR;
    config.outlier.half_open_calls = 1;
    // The client's own breaker judges the service as a whole: one bad instance of two
    // must not open it.
    config.breaker.failure_rate_threshold = 90.0;
}

#[tokio::test]
async fn balances_over_every_endpoint() {
    let a = spawn(&[]).await;
    let b = spawn(&[]).await;
    let (_tx, rx) = live(&[a.addr(), b.addr()]);
    let client = HttpClient::new("pair", &ClientResilienceConfig::default(), rx).unwrap();
    let mut seen = HashSet::new();
    for _ in 0..40 {
        let response = client
            .get("/whoami")
            .send()
            .await
            .map(Reply::into_response)
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        seen.insert(text(response).await);
    }
    assert_eq!(seen.len(), 2, "both instances served: {seen:?}");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_failing_endpoint_is_ejected_then_readmitted_when_healthy() {
    let key = "outlier";
    let good = spawn(&[]).await;
    let bad = spawn(&[("fail_key", key)]).await;
    let bad_id = bad.identity().instance_id.clone();
    flag(key).store(true, Ordering::SeqCst);
    let mut config = ClientResilienceConfig::default();
    quick_outlier_ejection(&mut config);
    config.retry.max_attempts = 1; // let failures show, to see ejection stop them
    let (_tx, rx) = live(&[good.addr(), bad.addr()]);
    let client = HttpClient::new("outlier", &config, rx).unwrap();

    // The bad instance's breaker opens at its `minimum_calls`-th failure (all its calls fail).
    let deadline = Instant::now() + BOUND;
    let mut failures = 0;
    while failures < config.outlier.minimum_calls {
        let response = client
            .get("/flaky")
            .send()
            .await
            .map(Reply::into_response)
            .unwrap();
        if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
            failures += 1;
        }
        assert!(
            Instant::now() < deadline,
            "the bad instance got {failures} calls"
        );
    }
    // Ejected: calls go to the good one, but for one trial call to the bad one after each
    // wait.
    let started = Instant::now();
    let mut trials = 0;
    for _ in 0..30 {
        let response = client
            .get("/flaky")
            .send()
            .await
            .map(Reply::into_response)
            .unwrap();
        if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
            trials += 1;
        }
    }
    let waits = started.elapsed().as_millis() / EJECTED_FOR.as_millis() + 1;
    assert!(
        trials <= waits,
        "{trials} errors reached the caller within {waits} waits"
    );

    // Healed: after the wait, trial calls reach it again and it is readmitted.
    flag(key).store(false, Ordering::SeqCst);
    let deadline = Instant::now() + BOUND;
    loop {
        let response = client
            .get("/flaky")
            .send()
            .await
            .map(Reply::into_response)
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        if text(response).await == bad_id {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the healed instance never came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(client.breaker().state(), State::Closed);
    good.shutdown().await;
    bad.shutdown().await;
}

#[tokio::test]
async fn retries_stay_within_the_budget_against_a_dead_dependency() {
    let only = spawn(&[]).await;
    let mut config = ClientResilienceConfig::default();
    config.breaker.enabled = false; // measure the budget alone
    config.outlier.enabled = false;
    config.retry.max_attempts = 5;
    config.retry.backoff_base = Duration::from_millis(1);
    config.retry.backoff_max = Duration::from_millis(2);
    config.retry.budget_percent = 20;
    config.retry.budget_min_per_sec = 1;
    config.retry.budget_ttl = Duration::from_secs(1);
    let (_tx, rx) = live(&[only.addr()]);
    let client = HttpClient::new("dead", &config, rx).unwrap();
    let key = "budget";
    let originals = 300;
    for _ in 0..originals {
        let response = client
            .get(Route::new("/fail/{key}").param("key", key))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let attempts = u32::try_from(hits(key).load(Ordering::SeqCst)).unwrap();
    let ratio = f64::from(attempts) / f64::from(originals);
    // Without a budget this would be 5.0; the budget allows 20% plus a floor of 1/s.
    assert!(
        (1.0..=1.35).contains(&ratio),
        "attempts per request {ratio:.3} ({attempts})"
    );
    only.shutdown().await;
}

#[tokio::test]
async fn a_deadline_shrinks_across_two_hops_and_fails_fast() {
    let last = spawn(&[]).await;
    let last_addr = last.addr().to_string();
    let first = spawn(&[("discovery.static.next", last_addr.as_str())]).await;
    let ask = |path: &str| {
        let request = Request::get(format!("http://{}{path}", first.addr()))
            .header("x-request-timeout-ms", "200")
            .body(Full::default())
            .unwrap();
        async move { common::send(&common::client(), request).await.unwrap() }
    };
    // The second hop sees what is left of the caller's 200 ms.
    let reply = ask("/hop/deadline").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let left: u64 = reply.text().parse().unwrap();
    assert!(left < 200 && left > 0, "second hop budget {left}");
    // A slow second hop: the whole call ends at the caller's deadline, not at the sum of the
    // timeouts (the client's own timeout is 2s, the handler sleeps 3s).
    let start = Instant::now();
    let reply = ask("/hop/slow/3000").await;
    let took = start.elapsed();
    assert_eq!(
        reply.status,
        StatusCode::GATEWAY_TIMEOUT,
        "{}",
        reply.text()
    );
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    first.shutdown().await;
    last.shutdown().await;
}

#[tokio::test]
async fn a_rolling_restart_under_load_fails_no_request() {
    let a = spawn(&[("shutdown.drain_delay", "100ms")]).await;
    let b = spawn(&[("shutdown.drain_delay", "100ms")]).await;
    let (tx, rx) = live(&[a.addr(), b.addr()]);
    let client = HttpClient::new("rolling", &ClientResilienceConfig::default(), rx).unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut load = Vec::new();
    for _ in 0..8 {
        let (client, stop) = (client.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut ok = 0usize;
            while !stop.is_cancelled() {
                let response = client
                    .get(Route::new("/slow/{ms}").param("ms", 5))
                    .send()
                    .await
                    .map(Reply::into_response);
                let response = response.unwrap_or_else(|e| panic!("request failed: {e}"));
                assert_eq!(response.status(), StatusCode::OK);
                ok += 1;
            }
            ok
        }));
    }
    // Restart each instance in turn: deregister, drain and stop, start anew, register.
    let mut running = vec![a, b];
    for _ in 0..2 {
        let old = running.remove(0);
        let others: Vec<_> = running
            .iter()
            .map(chassis::service::ServiceHandle::addr)
            .collect();
        tx.publish(set(&others));
        old.shutdown().await;
        let fresh = spawn(&[("shutdown.drain_delay", "100ms")]).await;
        let mut all = others;
        all.push(fresh.addr());
        tx.publish(set(&all));
        running.push(fresh);
        tokio::time::sleep(Duration::from_millis(200)).await; // keep load on the new set
    }
    stop.cancel();
    let mut served = 0;
    for task in load {
        served += tokio::time::timeout(BOUND, task).await.unwrap().unwrap();
    }
    assert!(served > 50, "load ran: {served}");
    for service in running {
        service.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_metrics_use_the_route_template() {
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let service = spawn(&[]).await;
    let (_tx, rx) = live(&[service.addr()]);
    let client = HttpClient::new("metered", &ClientResilienceConfig::default(), rx).unwrap();
    metrics::with_local_recorder(&recorder, || {
        // The recorder applies while the histogram handle is created.
        let rt = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| {
            rt.block_on(async {
                client
                    .get(Route::new("/slow/{ms}").param("ms", 1))
                    .send()
                    .await
                    .map(Reply::into_response)
                    .unwrap();
            });
        });
    });
    let labels: Vec<String> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == "http_client_request_duration_seconds")
        .flat_map(|(key, ..)| {
            key.key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        labels.contains(&"http_route=/slow/{ms}".to_owned()),
        "{labels:?}"
    );
    assert!(
        labels.contains(&"server_address=metered".to_owned()),
        "{labels:?}"
    );
    assert!(
        labels.contains(&"http_response_status_code=200".to_owned()),
        "{labels:?}"
    );
    let _ = get(service.addr(), "/hello").await;
    service.shutdown().await;
}

#[tokio::test]
async fn http2_prior_knowledge_to_a_chassis_server() {
    let service = spawn(&[]).await;
    let config = ClientResilienceConfig {
        http2: true,
        ..ClientResilienceConfig::default()
    };
    let (_tx, rx) = live(&[service.addr()]);
    let client = HttpClient::new("h2", &config, rx).unwrap();
    for _ in 0..3 {
        let response = client
            .get("/hello")
            .send()
            .await
            .map(Reply::into_response)
            .unwrap();
        assert_eq!(response.version(), http::Version::HTTP_2);
        assert_eq!(text(response).await, "hello");
    }
    service.shutdown().await;
}

#[tokio::test]
async fn a_hanging_endpoint_is_ejected_and_timeouts_open_the_client_breaker() {
    let good = spawn(&[]).await;
    let hanging = spawn(&[("hang", "true")]).await;
    let mut config = ClientResilienceConfig {
        attempt_timeout: Some(Duration::from_millis(100)),
        ..ClientResilienceConfig::default()
    };
    quick_outlier_ejection(&mut config);
    config.retry.max_attempts = 1;
    let (_publisher, endpoints) = live(&[good.addr(), hanging.addr()]);
    let client = HttpClient::new("hang", &config, endpoints).unwrap();
    let mut timeouts = 0;
    for _ in 0..40 {
        match client
            .get("/maybe-hang")
            .send()
            .await
            .map(Reply::into_response)
        {
            Ok(response) => assert_eq!(text(response).await, "answered"),
            Err(error) => {
                assert!(error.is_timeout(), "{error}");
                timeouts += 1;
            }
        }
    }
    // Timed-out attempts count against the hanging endpoint: it is ejected after a few,
    // instead of being tried forever (or shunned forever by a leaked in-flight count).
    assert!(timeouts > 0, "the hanging instance was tried");
    assert!(timeouts <= 8, "{timeouts} timeouts: not ejected");
    let tail: Vec<_> =
        futures_util::future::join_all((0..10).map(|_| client.get("/maybe-hang").send())).await;
    assert!(tail.iter().all(Result::is_ok), "errors after ejection");
    good.shutdown().await;
    hanging.shutdown().await;

    // A single endpoint that hangs: the client breaker counts the timeouts and opens.
    let lone = spawn(&[("hang", "true")]).await;
    let mut config = ClientResilienceConfig {
        timeout: Some(Duration::from_millis(100)),
        ..ClientResilienceConfig::default()
    };
    config.breaker.minimum_calls = 4;
    config.breaker.window.size = 4;
    config.retry.max_attempts = 1;
    let (_publisher, endpoints) = live(&[lone.addr()]);
    let client = HttpClient::new("lone", &config, endpoints).unwrap();
    for _ in 0..4 {
        let error = client
            .get("/maybe-hang")
            .send()
            .await
            .map(Reply::into_response)
            .unwrap_err();
        assert!(error.is_timeout(), "{error}");
    }
    let error = client
        .get("/maybe-hang")
        .send()
        .await
        .map(Reply::into_response)
        .unwrap_err();
    assert!(error.is_breaker_open(), "{error}");
    lone.shutdown().await;
}

/// A client built per tenant or per request must not leave its discovery-follow task behind
/// when it goes: the publisher sees its last follower go even though the set never changes.
#[tokio::test]
async fn dropping_the_last_clone_of_a_client_ends_its_following() {
    let (publisher, endpoints) = live(&["127.0.0.1:1".parse().unwrap()]);
    let client =
        HttpClient::new("followed", &ClientResilienceConfig::default(), endpoints).unwrap();
    let clone = client.clone();
    drop(client);
    let still = tokio::time::timeout(Duration::from_millis(50), publisher.closed()).await;
    assert!(still.is_err(), "a clone still follows the set");
    drop(clone);
    tokio::time::timeout(BOUND, publisher.closed())
        .await
        .expect("the publisher saw its last follower go");
}

/// No metric series outlives its subject: endpoint health is reported per client, without
/// addresses, and an ejected endpoint that leaves the set leaves the count.
#[tokio::test]
async fn an_ejected_endpoint_that_leaves_leaves_no_series_behind() {
    let key = "leaves";
    let good = spawn(&[]).await;
    let bad = spawn(&[("fail_key", key)]).await;
    flag(key).store(true, Ordering::SeqCst);
    let mut config = ClientResilienceConfig::default();
    quick_outlier_ejection(&mut config);
    config.retry.max_attempts = 1;
    let (publisher, rx) = live(&[good.addr(), bad.addr()]);
    let client = HttpClient::new("leaves", &config, rx).unwrap();
    let bad_authority = format!("127.0.0.1:{}", bad.addr().port());
    let deadline = Instant::now() + BOUND;
    while !client
        .endpoint_states()
        .iter()
        .any(|(addr, state)| *addr == bad_authority && *state == State::Open)
    {
        let _ = client
            .get("/flaky")
            .send()
            .await
            .map(Reply::into_response)
            .unwrap();
        assert!(Instant::now() < deadline, "never ejected");
    }
    let metrics_at = good.addr();
    let series = |name: &str, text: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}{{client=\"leaves\"")))
            .and_then(|l| l.rsplit_once(' '))
            .map(|(_, v)| v.to_owned())
    };
    let text = get(metrics_at, "/metrics").await.text();
    assert_eq!(
        series("chassis_outlier_ejected_endpoints", &text).as_deref(),
        Some("1")
    );
    assert_eq!(
        series("chassis_outlier_ejections_total", &text).as_deref(),
        Some("1")
    );
    // The bad instance is replaced: the set is {good}.
    publisher.publish(set(&[good.addr()]));
    let deadline = Instant::now() + BOUND;
    while client.endpoints().len() != 1 {
        assert!(Instant::now() < deadline, "the set never changed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let text = get(metrics_at, "/metrics").await.text();
    assert!(
        !text.contains(&bad_authority),
        "nothing about the gone endpoint:\n{text}"
    );
    assert!(
        !text.contains("leaves@"),
        "no per-endpoint breaker series:\n{text}"
    );
    assert_eq!(
        series("chassis_outlier_ejected_endpoints", &text).as_deref(),
        Some("0")
    );
    good.shutdown().await;
    bad.shutdown().await;
}

/// A connection error names the endpoint it was sent to, not only "client error (Connect)".
#[tokio::test]
async fn a_refused_connection_names_the_endpoint() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = unused.local_addr().unwrap();
    drop(unused);
    let (_tx, rx) = live(&[addr]);
    let mut config = ClientResilienceConfig::default();
    config.retry.max_attempts = 1;
    let client = HttpClient::new("refused", &config, rx).unwrap();
    let error = client.get("/hello").send().await.unwrap_err();
    let shown = error.to_string();
    assert!(
        shown.contains(&format!("connection refused by {addr}")),
        "{shown}"
    );
    assert_eq!(error.kind(), chassis::client::ClientErrorKind::Transport);
}
