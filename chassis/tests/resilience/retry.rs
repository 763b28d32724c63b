//! Behaviour of the retry layer: backoff, Retry-After, idempotency, deadlines, the budget,
//! body replay and metrics. Time is paused; nothing sleeps for real.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use chassis::resilience::{
    deadline::Deadline,
    retry::{Attempt, Backoff, RetryBody, RetryLayer, Retryable},
    timeout::{Elapsed, TimeoutKind, TimeoutLayer, is_timeout},
};
use futures_util::stream;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tokio::time::Instant;
use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt, service_fn};

type Res = http::Response<()>;

/// What a scripted service saw: attempt start times and request bodies.
#[derive(Clone, Default)]
struct Log {
    starts: Arc<Mutex<Vec<Instant>>>,
    bodies: Arc<Mutex<Vec<Bytes>>>,
}

impl Log {
    fn attempts(&self) -> usize {
        self.starts.lock().expect("lock").len()
    }
    fn starts(&self) -> Vec<Instant> {
        self.starts.lock().expect("lock").clone()
    }
    fn bodies(&self) -> Vec<Bytes> {
        self.bodies.lock().expect("lock").clone()
    }
}

/// A service answering attempt `n` (0-based) with `answer(n)` after `work`.
fn scripted<B>(
    log: Log,
    work: Duration,
    answer: impl Fn(usize) -> Result<Res, BoxError> + Clone + Send + 'static,
) -> impl Service<http::Request<RetryBody<B>>, Response = Res, Error = BoxError, Future: Send>
+ Clone
+ Send
where
    B: http_body::Body<Data = Bytes, Error: Into<BoxError>> + Unpin + Send + 'static,
{
    service_fn(move |req: http::Request<RetryBody<B>>| {
        let log = log.clone();
        let answer = answer.clone();
        async move {
            let n = {
                let mut starts = log.starts.lock().expect("lock");
                starts.push(Instant::now());
                starts.len() - 1
            };
            let body = req.into_body().collect().await?.to_bytes();
            log.bodies.lock().expect("lock").push(body);
            if !work.is_zero() {
                tokio::time::sleep(work).await;
            }
            answer(n)
        }
    })
}

fn status(code: u16) -> Result<Res, BoxError> {
    Ok(http::Response::builder().status(code).body(())?)
}

fn with_header(code: u16, name: &str, value: &str) -> Result<Res, BoxError> {
    Ok(http::Response::builder()
        .status(code)
        .header(name, value)
        .body(())?)
}

fn get() -> http::Request<Empty<Bytes>> {
    http::Request::get("/items")
        .body(Empty::new())
        .expect("request")
}

fn recorder() -> (DebuggingRecorder, Snapshotter) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    (recorder, snapshotter)
}

/// One snapshot of every counter (the debugging recorder resets counters on snapshot).
struct Counters(Vec<Sample>);

/// A counter's name, labels and value.
type Sample = (String, Vec<(String, String)>, u64);

impl Counters {
    fn take(snapshotter: &Snapshotter) -> Self {
        Self(
            snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .filter_map(|(key, _, _, value)| match value {
                    DebugValue::Counter(n) => {
                        let key = key.key();
                        let labels = key
                            .labels()
                            .map(|l| (l.key().to_owned(), l.value().to_owned()))
                            .collect();
                        Some((key.name().to_owned(), labels, n))
                    }
                    _ => None,
                })
                .collect(),
        )
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.0
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, value)| value)
            .sum()
    }

    fn outcome(&self, outcome: &str) -> u64 {
        self.get(
            "chassis_retry_attempts_total",
            &[("client", "catalog"), ("outcome", outcome)],
        )
    }
}

#[test]
fn backoff_full_jitter_stays_in_bounds_with_mean_near_half() {
    let backoff = Backoff::new(Duration::from_millis(25), Duration::from_secs(1));
    let mut rng = fastrand::Rng::with_seed(7);
    for retry in 0..8 {
        let ceiling = backoff.ceiling(retry);
        let samples: Vec<Duration> = (0..20_000)
            .map(|_| backoff.delay_with(retry, &mut rng))
            .collect();
        assert!(samples.iter().all(|d| *d <= ceiling), "retry {retry}");
        let mean = samples.iter().sum::<Duration>().as_secs_f64() / f64::from(20_000u32);
        let half = ceiling.as_secs_f64() / 2.0;
        assert!(
            (mean - half).abs() < half * 0.03,
            "retry {retry}: mean {mean} vs {half}"
        );
        let min = samples.iter().min().expect("samples");
        let max = samples.iter().max().expect("samples");
        assert!(
            *min < ceiling / 50 && *max > ceiling * 49 / 50,
            "spread {min:?}..{max:?}"
        );
    }
}

#[test]
fn backoff_doubles_then_caps() {
    let backoff = Backoff::new(Duration::from_millis(25), Duration::from_secs(1));
    let ceilings: Vec<u128> = (0..9).map(|n| backoff.ceiling(n).as_millis()).collect();
    assert_eq!(ceilings, [25, 50, 100, 200, 400, 800, 1000, 1000, 1000]);
    let mut rng = fastrand::Rng::with_seed(1);
    for retry in 6..64 {
        for _ in 0..200 {
            assert!(backoff.delay_with(retry, &mut rng) <= Duration::from_secs(1));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn get_is_retried_until_success_and_counted() {
    let (rec, snap) = recorder();
    let layer = metrics::with_local_recorder(&rec, || {
        RetryLayer::builder("catalog").build().expect("valid")
    });
    let log = Log::default();
    let svc = layer.layer(scripted(log.clone(), Duration::ZERO, |n| {
        status(if n < 2 { 503 } else { 200 })
    }));
    let res = svc.oneshot(get()).await.expect("response");
    assert_eq!(res.status(), 200);
    assert_eq!(log.attempts(), 3);
    let counters = Counters::take(&snap);
    assert_eq!(counters.outcome("retried"), 2);
    assert_eq!(counters.outcome("success"), 1);
    assert_eq!(counters.outcome("exhausted"), 0);
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_attempts_with_last_response() {
    let (rec, snap) = recorder();
    let layer = metrics::with_local_recorder(&rec, || {
        RetryLayer::builder("catalog")
            .max_attempts(4)
            .build()
            .expect("valid")
    });
    let log = Log::default();
    let svc = layer.layer(scripted(log.clone(), Duration::ZERO, |_| status(502)));
    let res = svc.oneshot(get()).await.expect("response");
    assert_eq!(res.status(), 502);
    assert_eq!(log.attempts(), 4);
    let counters = Counters::take(&snap);
    assert_eq!(counters.outcome("retried"), 3);
    assert_eq!(counters.outcome("exhausted"), 1);
}

#[tokio::test(start_paused = true)]
async fn non_retryable_status_is_returned_at_once() {
    let layer = RetryLayer::builder("catalog").build().expect("valid");
    let log = Log::default();
    let svc = layer.layer(scripted(log.clone(), Duration::ZERO, |_| status(500)));
    assert_eq!(svc.oneshot(get()).await.expect("response").status(), 500);
    assert_eq!(log.attempts(), 1);
}

#[tokio::test(start_paused = true)]
async fn post_is_not_retried_unless_marked() {
    let (rec, snap) = recorder();
    let layer = metrics::with_local_recorder(&rec, || {
        RetryLayer::builder("catalog").build().expect("valid")
    });
    let log = Log::default();
    let svc = layer.layer(scripted(log.clone(), Duration::ZERO, |_| status(503)));

    let post = http::Request::post("/orders")
        .body(Full::new(Bytes::from_static(b"{}")))
        .expect("request");
    let res = svc.clone().oneshot(post).await.expect("response");
    assert_eq!(res.status(), 503);
    assert_eq!(log.attempts(), 1);
    let counters = Counters::take(&snap);
    assert_eq!(counters.outcome("not_retryable"), 1);

    let mut marked = http::Request::post("/orders")
        .body(Full::new(Bytes::from_static(b"{}")))
        .expect("request");
    marked.extensions_mut().insert(Retryable);
    svc.oneshot(marked).await.expect("response");
    assert_eq!(log.attempts(), 1 + 3);
    assert_eq!(log.bodies()[1..], vec![Bytes::from_static(b"{}"); 3]);
}

/// `Retry-After` is a floor: the wait is at least what the server asked and at most half as
/// long again, spread so that callers told the same do not all come back in the same tick.
#[tokio::test(start_paused = true)]
async fn retry_after_seconds_is_a_floor_with_jitter() {
    let layer = RetryLayer::builder("catalog").build().expect("valid");
    let log = Log::default();
    let svc = layer.layer(scripted(log.clone(), Duration::ZERO, |n| match n {
        0 => with_header(429, "retry-after", "2"),
        _ => status(200),
    }));
    assert_eq!(svc.oneshot(get()).await.expect("response").status(), 200);
    let starts = log.starts();
    let gap = starts[1] - starts[0];
    assert!(
        gap >= Duration::from_secs(2) && gap <= Duration::from_millis(3002),
        "{gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn callers_told_the_same_retry_after_come_back_spread_out() {
    let layer = RetryLayer::builder("catalog").build().expect("valid");
    let mut gaps = Vec::new();
    for _ in 0..20 {
        let log = Log::default();
        let svc = layer.layer(scripted(log.clone(), Duration::ZERO, |n| match n {
            0 => with_header(503, "retry-after", "1"),
            _ => status(200),
        }));
        assert_eq!(svc.oneshot(get()).await.expect("response").status(), 200);
        let starts = log.starts();
        gaps.push(starts[1] - starts[0]);
    }
    let (first, last) = (gaps.iter().min().unwrap(), gaps.iter().max().unwrap());
    assert!(*first >= Duration::from_secs(1), "{gaps:?}");
    assert!(*last <= Duration::from_millis(1502), "{gaps:?}");
    let window = last.saturating_sub(*first);
    assert!(
        window >= Duration::from_millis(100),
        "20 callers within {window:?}: {gaps:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_http_date_is_honoured() {
    let layer = RetryLayer::builder("catalog").build().expect("valid");
    let log = Log::default();
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3));
    let svc = layer.layer(scripted(log.clone(), Duration::ZERO, move |n| match n {
        0 => with_header(503, "retry-after", &date),
        _ => status(200),
    }));
    assert_eq!(svc.oneshot(get()).await.expect("response").status(), 200);
    let starts = log.starts();
    let gap = starts[1] - starts[0];
    // The date has whole-second precision; the wait is spread up to half as long again.
    assert!(
        gap >= Duration::from_secs(2) && gap <= Duration::from_millis(4502),
        "{gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_bound_ends_retries() {
    let (rec, snap) = recorder();
    let layer = metrics::with_local_recorder(&rec, || {
        RetryLayer::builder("catalog")
            .retry_after_max(Duration::from_secs(5))
            .build()
            .expect("valid")
    });
    let log = Log::default();
    let svc = layer.layer(scripted(log.clone(), Duration::ZERO, |_| {
        with_header(503, "retry-after", "60")
    }));
    let started = Instant::now();
    assert_eq!(svc.oneshot(get()).await.expect("response").status(), 503);
    assert_eq!(log.attempts(), 1);
    assert_eq!(started.elapsed(), Duration::ZERO);
    let counters = Counters::take(&snap);
    assert_eq!(counters.outcome("not_retryable"), 1);
}

#[tokio::test(start_paused = true)]
async fn deadline_stops_retries_that_cannot_finish() {
    let (rec, snap) = recorder();
    let layer = metrics::with_local_recorder(&rec, || {
        RetryLayer::builder("catalog")
            .max_attempts(10)
            .backoff(Duration::from_millis(10), Duration::from_millis(10))
            .min_attempt_time(Duration::from_millis(100))
            .build()
            .expect("valid")
    });
    let log = Log::default();
    let svc = layer.layer(scripted(log.clone(), Duration::from_millis(100), |_| {
        status(503)
    }));
    let deadline = Instant::now() + Duration::from_millis(350);
    let mut req = get();
    req.extensions_mut().insert(Deadline::at(deadline));
    assert_eq!(svc.oneshot(req).await.expect("response").status(), 503);
    let starts = log.starts();
    assert_eq!(starts.len(), 3, "{starts:?}");
    for start in starts {
        assert!(start + Duration::from_millis(100) <= deadline);
    }
    let counters = Counters::take(&snap);
    assert_eq!(counters.outcome("deadline"), 1);
    assert!(Instant::now() < deadline);
}

#[tokio::test(start_paused = true)]
async fn current_deadline_shorter_than_retry_after_stops_at_once() {
    let layer = RetryLayer::builder("catalog").build().expect("valid");
    let log = Log::default();
    let svc = layer.layer(scripted(log.clone(), Duration::ZERO, |_| {
        with_header(503, "retry-after", "1")
    }));
    let deadline = Deadline::after(Duration::from_millis(500));
    let res = Deadline::scope(Some(deadline), svc.oneshot(get()))
        .await
        .expect("response");
    assert_eq!(res.status(), 503);
    assert_eq!(log.attempts(), 1);
}

#[tokio::test(start_paused = true)]
async fn budget_bounds_retries_against_a_dead_dependency() {
    let (rec, snap) = recorder();
    let layer = metrics::with_local_recorder(&rec, || {
        RetryLayer::builder("catalog").build().expect("valid")
    });
    let log = Log::default();
    let svc = layer.layer(scripted(log.clone(), Duration::from_millis(5), |_| {
        status(503)
    }));

    // 1000 requests over 10 s: 100 per second against a dependency failing every call.
    let originals = 1000u32;
    let mut tasks = Vec::new();
    for _ in 0..originals {
        tasks.push(tokio::spawn(svc.clone().oneshot(get())));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for task in tasks {
        assert_eq!(task.await.expect("task").expect("response").status(), 503);
    }
    let attempts = u32::try_from(log.attempts()).expect("small");
    let ratio = f64::from(attempts) / f64::from(originals);
    // budget_percent 20 % plus the floor (10/s at 100 requests/s = 0.1), and 0.01 for the
    // budget's one-second slots: withdrawals older than the ttl expire slot by slot.
    let bound = 1.0 + 0.20 + 0.10 + 0.01;
    assert!(ratio <= bound, "ratio {ratio} above {bound}");
    assert!(
        ratio >= 1.2,
        "the budget should allow its share: ratio {ratio}"
    );
    let counters = Counters::take(&snap);
    let refused = counters.get(
        "chassis_retry_budget_exhausted_total",
        &[("client", "catalog")],
    );
    assert!(refused > 0);
    assert_eq!(counters.outcome("budget_exhausted"), refused);
    let counted: u64 = ["success", "retried", "exhausted", "budget_exhausted"]
        .iter()
        .map(|o| counters.outcome(o))
        .sum();
    assert_eq!(counted, log.attempts() as u64);
}

#[tokio::test(start_paused = true)]
async fn streaming_body_under_the_cap_is_replayed() {
    let layer = RetryLayer::builder("catalog").build().expect("valid");
    let log = Log::default();
    let svc = layer.layer(scripted(log.clone(), Duration::ZERO, |n| {
        status(if n == 0 { 503 } else { 201 })
    }));
    let chunks = ["ab", "cd", "ef"]
        .map(|c| Ok::<_, BoxError>(http_body::Frame::data(Bytes::from_static(c.as_bytes()))));
    let body = StreamBody::new(stream::iter(chunks));
    let req = http::Request::put("/items/1").body(body).expect("request");
    assert_eq!(svc.oneshot(req).await.expect("response").status(), 201);
    assert_eq!(log.bodies(), vec![Bytes::from_static(b"abcdef"); 2]);
}

#[tokio::test(start_paused = true)]
async fn body_over_the_cap_is_sent_once_intact() {
    let (rec, snap) = recorder();
    let layer = metrics::with_local_recorder(&rec, || {
        RetryLayer::builder("catalog")
            .max_replay_body(25)
            .build()
            .expect("valid")
    });
    let log = Log::default();
    let svc = layer.layer(scripted(log.clone(), Duration::ZERO, |_| status(503)));
    let streaming = layer.layer(scripted(log.clone(), Duration::ZERO, |_| status(503)));

    // Known size above the cap: not even buffered.
    let big = Bytes::from(vec![b'x'; 100]);
    let req = http::Request::put("/items/1")
        .body(Full::new(big.clone()))
        .expect("request");
    assert_eq!(svc.oneshot(req).await.expect("response").status(), 503);
    assert_eq!(log.attempts(), 1);

    // Unknown size that turns out larger: the buffered prefix, then the rest, once.
    let chunks: Vec<Result<_, BoxError>> = (0..10u8)
        .map(|i| Ok(http_body::Frame::data(Bytes::from(vec![b'0' + i; 10]))))
        .collect();
    let req = http::Request::put("/items/1")
        .body(StreamBody::new(stream::iter(chunks)))
        .expect("request");
    assert_eq!(
        streaming.oneshot(req).await.expect("response").status(),
        503
    );
    assert_eq!(log.attempts(), 2);
    let sent = &log.bodies()[1];
    let expected: Vec<u8> = (0..10u8).flat_map(|i| [b'0' + i; 10]).collect();
    assert_eq!(sent.as_ref(), expected.as_slice());
    assert_eq!(log.bodies()[0], big);
    let counters = Counters::take(&snap);
    assert_eq!(counters.outcome("not_retryable"), 2);
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_is_retried_within_the_overall_timeout() {
    let log = Log::default();
    let inner = {
        let log = log.clone();
        service_fn(move |_req: http::Request<RetryBody<Empty<Bytes>>>| {
            let n = {
                let mut starts = log.starts.lock().expect("lock");
                starts.push(Instant::now());
                starts.len()
            };
            async move {
                if n == 1 {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
                status(200)
            }
        })
    };
    let svc = ServiceBuilder::new()
        .layer(TimeoutLayer::overall(Duration::from_secs(2)))
        .layer(RetryLayer::builder("catalog").build().expect("valid"))
        .layer(TimeoutLayer::per_attempt(Duration::from_millis(300)))
        .service(inner);
    let started = Instant::now();
    assert_eq!(svc.oneshot(get()).await.expect("response").status(), 200);
    assert_eq!(log.attempts(), 2);
    assert!(started.elapsed() < Duration::from_millis(400));
}

#[tokio::test(start_paused = true)]
async fn overall_timeout_bounds_all_attempts() {
    let log = Log::default();
    let svc = ServiceBuilder::new()
        .layer(TimeoutLayer::overall(Duration::from_millis(500)))
        .layer(
            RetryLayer::builder("catalog")
                .max_attempts(10)
                .min_attempt_time(Duration::ZERO)
                .build()
                .expect("valid"),
        )
        .layer(TimeoutLayer::per_attempt(Duration::from_millis(200)))
        .service(scripted(log.clone(), Duration::from_secs(10), |_| {
            status(200)
        }));
    let started = Instant::now();
    let err = svc.oneshot(get()).await.expect_err("times out");
    assert!(is_timeout(&*err));
    let elapsed = err.downcast_ref::<Elapsed>().expect("our leaf error");
    assert_eq!(elapsed.kind(), TimeoutKind::Overall);
    assert!(started.elapsed() <= Duration::from_millis(501));
    assert!(
        (2..=3).contains(&log.attempts()),
        "{} attempts",
        log.attempts()
    );
}

#[tokio::test(start_paused = true)]
async fn closure_classifier_decides_what_is_retried() {
    let layer = RetryLayer::builder("catalog")
        .with_classifier(
            |attempt: Attempt<'_>| matches!(attempt, Attempt::Response(status, _) if status == 500),
        )
        .build()
        .expect("valid");
    let log = Log::default();
    let svc = layer.layer(scripted(log.clone(), Duration::ZERO, |n| {
        status(if n == 0 { 500 } else { 503 })
    }));
    // 500 is retried by this classifier, 503 is not.
    assert_eq!(svc.oneshot(get()).await.expect("response").status(), 503);
    assert_eq!(log.attempts(), 2);
}

#[tokio::test(start_paused = true)]
async fn connect_errors_are_retried() {
    let layer = RetryLayer::builder("catalog").build().expect("valid");
    let log = Log::default();
    let svc = layer.layer(scripted(log.clone(), Duration::ZERO, |n| {
        if n == 0 {
            Err(std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into())
        } else {
            status(200)
        }
    }));
    assert_eq!(svc.oneshot(get()).await.expect("response").status(), 200);
    assert_eq!(log.attempts(), 2);
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_budget() {
    let layer = RetryLayer::builder("catalog")
        .config(chassis::resilience::config::RetryConfig {
            budget_percent: 0,
            budget_min_per_sec: 1,
            budget_ttl: Duration::from_secs(1),
            ..Default::default()
        })
        .build()
        .expect("valid");
    let log = Log::default();
    let a = layer.layer(scripted(log.clone(), Duration::ZERO, |_| status(503)));
    let b = layer
        .clone()
        .layer(scripted(log.clone(), Duration::ZERO, |_| status(503)));
    a.oneshot(get()).await.expect("response");
    b.oneshot(get()).await.expect("response");
    // One retry per second for everyone: 2 originals + 1 retry in total.
    assert_eq!(log.attempts(), 3);
}

#[tokio::test(start_paused = true)]
async fn full_client_stack_composes_in_the_documented_order() {
    use chassis::resilience::{
        bulkhead::BulkheadLayer,
        deadline::{HEADER, PropagateDeadlineLayer},
    };

    let sent = Arc::new(Mutex::new(Vec::new()));
    let transport = {
        let sent = Arc::clone(&sent);
        service_fn(move |req: http::Request<RetryBody<Empty<Bytes>>>| {
            let value: Option<u64> = req
                .headers()
                .get(HEADER)
                .and_then(|v| v.to_str().ok()?.parse().ok());
            let n = {
                let mut sent = sent.lock().expect("lock");
                sent.push(value);
                sent.len()
            };
            async move { status(if n == 1 { 503 } else { 200 }) }
        })
    };
    let client = ServiceBuilder::new()
        .layer(TimeoutLayer::overall(Duration::from_secs(2)))
        .layer(RetryLayer::builder("catalog").build().expect("valid"))
        .layer(TimeoutLayer::per_attempt(Duration::from_millis(300)))
        .layer(PropagateDeadlineLayer::new())
        .layer(BulkheadLayer::new("catalog", 8))
        .service(transport);
    // Called from a handler whose caller left it 250 ms.
    let res = Deadline::scope(
        Some(Deadline::after(Duration::from_millis(250))),
        client.oneshot(get()),
    )
    .await
    .expect("response");
    assert_eq!(res.status(), 200);
    let sent = sent.lock().expect("lock").clone();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], Some(250));
    assert!(sent[1].is_some_and(|ms| ms < 250), "{sent:?}");
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_over_deadline_propagation_is_still_retried() {
    use chassis::resilience::deadline::PropagateDeadlineLayer;

    let log = Log::default();
    // The first attempt hangs: both the attempt timer and the propagated deadline fire at
    // the same instant; either way the attempt counts as a retryable timeout.
    let slow = {
        let log = log.clone();
        service_fn(move |req: http::Request<RetryBody<Empty<Bytes>>>| {
            let first = log.attempts() == 0;
            log.starts.lock().expect("lock").push(Instant::now());
            assert!(req.headers().contains_key("x-request-timeout-ms"));
            async move {
                if first {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
                status(200)
            }
        })
    };
    let client = ServiceBuilder::new()
        .layer(RetryLayer::builder("catalog").build().expect("valid"))
        .layer(TimeoutLayer::per_attempt(Duration::from_millis(100)))
        .layer(PropagateDeadlineLayer::new())
        .service(slow);
    let res = client
        .oneshot(get())
        .await
        .expect("retried after the timeout");
    assert_eq!(res.status(), 200);
    assert_eq!(log.attempts(), 2);
}

#[tokio::test(start_paused = true)]
async fn stack_from_config_builds_and_serves() {
    use chassis::resilience::{
        bulkhead::BulkheadLayer, config::ClientResilienceConfig, deadline::PropagateDeadlineLayer,
    };

    let config: ClientResilienceConfig = toml::from_str(
        "timeout = \"1s\"\nattempt_timeout = \"200ms\"\n[retry]\nmax_attempts = 2\n[bulkhead]\nmax_concurrent = 4",
    )
    .expect("parses");
    config.validate().expect("valid");
    let log = Log::default();
    let stack = ServiceBuilder::new()
        .option_layer(config.timeout.map(TimeoutLayer::overall))
        .layer(RetryLayer::from_config("catalog", &config.retry).expect("valid"))
        .option_layer(config.attempt_timeout.map(TimeoutLayer::per_attempt))
        .layer(PropagateDeadlineLayer::new())
        .option_layer(
            config
                .bulkhead
                .as_ref()
                .map(|b| BulkheadLayer::from_config("catalog", b)),
        )
        .service(scripted(log.clone(), Duration::ZERO, |_| status(503)));
    let res = stack.oneshot(get()).await.expect("response");
    assert_eq!(res.status(), 503);
    assert_eq!(log.attempts(), 2);
}
