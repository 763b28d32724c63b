//! Blame over real loopback: the client's breaker, outlier ejection and retries count only
//! what the dependency did. A caller's spent deadline, a caller hanging up, a full bulkhead or
//! no endpoint never open a breaker or eject an endpoint; the client's own timeout does.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chassis::client::{ClientErrorKind, HttpClient, Reply, Route};
use chassis::discovery::{Endpoint, EndpointSet, Endpoints, Publisher};
use chassis::resilience::blame::{Cause, Verdict};
use chassis::resilience::breaker::State;
use chassis::resilience::config::{BulkheadConfig, ClientResilienceConfig};
use chassis::resilience::deadline::Deadline;
use common::{gate, get, hits, spawn};
use http::StatusCode;

const BOUND: Duration = Duration::from_secs(20);

/// A live endpoint set over `addrs`.
fn live(addrs: &[std::net::SocketAddr]) -> (Publisher, Endpoints) {
    let (publisher, endpoints) = Publisher::channel("test", "svc");
    publisher.publish(EndpointSet::new(addrs.iter().map(|a| Endpoint::new(*a))));
    (publisher, endpoints)
}

/// Breakers that open on the second failure they are told of: anything charged shows.
fn touchy() -> ClientResilienceConfig {
    let mut config = ClientResilienceConfig::default();
    for breaker in [&mut config.breaker, &mut config.outlier] {
        breaker.minimum_calls = 2;
        breaker.window.size = 4;
        breaker.wait_in_open = Duration::from_secs(60);
    }
    config.retry.max_attempts = 1;
    config
}

fn all_closed(client: &HttpClient) -> bool {
    client.breaker().state() == State::Closed
        && client
            .endpoint_states()
            .iter()
            .all(|(_, state)| *state == State::Closed)
}

/// The value of `chassis_client_outcomes_total` for `client`, `scope` and `kind`.
async fn outcomes(metrics_at: std::net::SocketAddr, client: &str, scope: &str, kind: &str) -> u64 {
    let text = get(metrics_at, "/metrics").await.text();
    let series = format!(
        "chassis_client_outcomes_total{{client=\"{client}\",scope=\"{scope}\",kind=\"{kind}\"}} "
    );
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |value| value.trim().parse().unwrap())
}

#[tokio::test]
async fn a_spent_deadline_reaches_no_dependency_and_charges_no_breaker() {
    let dependency = spawn(&[]).await;
    let (_tx, rx) = live(&[dependency.addr()]);
    let client = HttpClient::new("spent-deadline", &touchy(), rx).unwrap();
    let key = "spent-deadline";
    let spent = Deadline::at(tokio::time::Instant::now());
    for _ in 0..10 {
        let call = client
            .get(Route::new("/work/{key}").param("key", key))
            .send();
        let error = Deadline::scope(Some(spent), call).await.unwrap_err();
        assert_eq!(error.kind(), ClientErrorKind::DeadlineExceeded);
        assert_eq!(error.verdict(), Verdict::NotCharged(Cause::Deadline));
    }
    assert_eq!(hits(key).load(Ordering::SeqCst), 0, "nothing reached it");
    assert!(all_closed(&client), "{:?}", client.endpoint_states());
    // The next call, with time to spare, is served.
    let response = client
        .get(Route::new("/work/{key}").param("key", key))
        .send()
        .await
        .map(Reply::into_response)
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(hits(key).load(Ordering::SeqCst), 1);
    let at = dependency.addr();
    assert_eq!(outcomes(at, "spent-deadline", "call", "deadline").await, 10);
    assert_eq!(outcomes(at, "spent-deadline", "call", "success").await, 1);
    dependency.shutdown().await;
}

#[tokio::test]
async fn callers_hanging_up_mid_call_never_eject_a_healthy_endpoint() {
    let a = spawn(&[]).await;
    let b = spawn(&[]).await;
    let (_tx, rx) = live(&[a.addr(), b.addr()]);
    let client = HttpClient::new("hang-ups", &touchy(), rx).unwrap();
    // Every call waits at a gate that never opens, and its caller gives up after 20 ms.
    for _ in 0..10 {
        let call = client
            .get(Route::new("/gate/{key}").param("key", "hang-ups-never"))
            .send();
        assert!(
            tokio::time::timeout(Duration::from_millis(20), call)
                .await
                .is_err()
        );
    }
    assert!(all_closed(&client), "{:?}", client.endpoint_states());
    assert_eq!(
        client
            .get("/hello")
            .send()
            .await
            .map(Reply::into_response)
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        outcomes(a.addr(), "hang-ups", "call", "cancelled").await,
        10
    );
    assert_eq!(
        outcomes(a.addr(), "hang-ups", "attempt", "cancelled").await,
        10
    );
    assert_eq!(
        outcomes(a.addr(), "hang-ups", "attempt", "timeout").await,
        0
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn the_clients_own_attempt_timeout_ejects_a_hanging_endpoint() {
    let healthy = spawn(&[]).await;
    let hanging = spawn(&[("hang", "true")]).await;
    let (_tx, rx) = live(&[healthy.addr(), hanging.addr()]);
    let mut config = touchy();
    config.attempt_timeout = Some(Duration::from_millis(50));
    config.breaker.failure_rate_threshold = 100.0; // the client as a whole stays up
    config.breaker.minimum_calls = 100;
    let client = HttpClient::new("own-timeout", &config, rx).unwrap();
    let hanging_addr = format!("127.0.0.1:{}", hanging.addr().port());
    let deadline = Instant::now() + BOUND;
    loop {
        match client
            .get("/maybe-hang")
            .send()
            .await
            .map(Reply::into_response)
        {
            Ok(response) => assert_eq!(response.status(), StatusCode::OK),
            Err(error) => {
                assert_eq!(error.kind(), ClientErrorKind::Timeout);
                assert!(error.verdict().is_failure());
            }
        }
        let states = client.endpoint_states();
        if states
            .iter()
            .any(|(addr, state)| *addr == hanging_addr && *state == State::Open)
        {
            break;
        }
        assert!(Instant::now() < deadline, "never ejected: {states:?}");
    }
    assert!(outcomes(healthy.addr(), "own-timeout", "attempt", "timeout").await >= 2);
    healthy.shutdown().await;
    hanging.shutdown().await;
}

#[tokio::test]
async fn a_deadline_running_out_mid_call_is_the_callers_not_the_dependencys() {
    let dependency = spawn(&[]).await;
    let (_tx, rx) = live(&[dependency.addr()]);
    let client = HttpClient::new("deadline-mid-call", &touchy(), rx).unwrap();
    for _ in 0..6 {
        let budget = Deadline::after(Duration::from_millis(30));
        let call = client.get(Route::new("/slow/{ms}").param("ms", 300)).send();
        let error = Deadline::scope(Some(budget), call).await.unwrap_err();
        assert_eq!(error.kind(), ClientErrorKind::DeadlineExceeded);
    }
    assert!(all_closed(&client), "{:?}", client.endpoint_states());
    dependency.shutdown().await;
}

#[tokio::test]
async fn the_clients_own_overall_timeout_opens_its_breaker() {
    let dependency = spawn(&[]).await;
    let (_tx, rx) = live(&[dependency.addr()]);
    let mut config = touchy();
    config.timeout = Some(Duration::from_millis(30));
    let client = HttpClient::new("overall-timeout", &config, rx).unwrap();
    for _ in 0..2 {
        let error = client
            .get(Route::new("/slow/{ms}").param("ms", 300))
            .send()
            .await
            .map(Reply::into_response)
            .unwrap_err();
        assert_eq!(error.kind(), ClientErrorKind::Timeout);
    }
    assert_eq!(client.breaker().state(), State::Open);
    let refused = client
        .get("/hello")
        .send()
        .await
        .map(Reply::into_response)
        .unwrap_err();
    assert_eq!(refused.kind(), ClientErrorKind::BreakerOpen);
    assert_eq!(refused.verdict(), Verdict::NotCharged(Cause::BreakerOpen));
    // Answered to the handler's caller: 503, and Retry-After is the breaker's remaining wait
    // (60 s, rounded up) plus up to 2 s, not a retry into a door that stays closed.
    let response = axum::response::IntoResponse::into_response(refused);
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let after: u64 = response.headers()[http::header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((55..=62).contains(&after), "Retry-After: {after}");
    dependency.shutdown().await;
}

#[tokio::test]
async fn a_full_bulkhead_and_no_endpoint_are_local_refusals() {
    let dependency = spawn(&[]).await;
    let (_tx, rx) = live(&[dependency.addr()]);
    let mut config = touchy();
    config.bulkhead = Some(BulkheadConfig {
        max_concurrent: 1,
        max_queue: 0,
        max_wait: Duration::from_millis(1),
    });
    let client = HttpClient::new("local-refusals", &config, rx).unwrap();
    let key = "local-refusals";
    let held = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .get(Route::new("/gate/{key}").param("key", key))
                .send()
                .await
                .map(Reply::into_response)
        }
    });
    // The held call holds the bulkhead's one place once it waits at the dependency's gate.
    let deadline = Instant::now() + BOUND;
    while hits(key).load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the held call never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for _ in 0..5 {
        let error = client
            .get("/hello")
            .send()
            .await
            .map(Reply::into_response)
            .unwrap_err();
        assert_eq!(error.verdict(), Verdict::NotCharged(Cause::Bulkhead));
    }
    gate(key).notify_one();
    assert_eq!(held.await.unwrap().unwrap().status(), StatusCode::OK);
    assert!(all_closed(&client));

    let (_none, nothing) = live(&[]);
    let lonely = HttpClient::new("no-endpoint", &touchy(), nothing).unwrap();
    for _ in 0..5 {
        let error = lonely
            .get("/hello")
            .send()
            .await
            .map(Reply::into_response)
            .unwrap_err();
        assert_eq!(error.kind(), ClientErrorKind::NoEndpoint);
    }
    assert_eq!(lonely.breaker().state(), State::Closed);
    dependency.shutdown().await;
}
