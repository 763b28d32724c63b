//! Deadlines: the inbound `x-request-timeout-ms` header, the current deadline inside
//! handlers, and propagation on outbound calls. Time is paused.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use chassis::resilience::{
    deadline::{Deadline, DeadlineExceeded, DeadlineLayer, HEADER, PropagateDeadlineLayer},
    timeout::TimeoutLayer,
};
use tokio::time::Instant;
use tower::{BoxError, Layer, Service, ServiceExt, service_fn};

/// What a handler saw: the current deadline and the one in the extensions.
type Seen = (Option<Duration>, Option<Duration>);

/// A server handler reporting the remaining budgets it sees.
fn handler() -> impl Service<http::Request<()>, Response = http::Response<Seen>, Error = BoxError> {
    service_fn(|req: http::Request<()>| async move {
        let current = Deadline::current().map(Deadline::remaining);
        let extension = req.extensions().get::<Deadline>().map(|d| d.remaining());
        Ok::<_, BoxError>(http::Response::new((current, extension)))
    })
}

fn inbound(value: &[u8]) -> http::Request<()> {
    let mut req = http::Request::new(());
    req.headers_mut().insert(
        HEADER,
        http::HeaderValue::from_bytes(value).expect("header bytes"),
    );
    req
}

#[tokio::test(start_paused = true)]
async fn inbound_header_table_never_fails() {
    let cases: &[(&[u8], Option<u64>)] = &[
        (b"250", Some(250)),
        (b"0", Some(0)),
        (b" 1200 ", Some(1200)),
        (b"", None),
        (b"-100", None),
        (b"abc", None),
        (b"2.5", None),
        (b"100ms", None),
        (b"99999999999999999999999999", None),
        (b"86400001", None),
    ];
    for (value, want) in cases {
        let res = DeadlineLayer::new()
            .layer(handler())
            .oneshot(inbound(value))
            .await
            .expect("never an error");
        let want = want.map(Duration::from_millis);
        let shown = String::from_utf8_lossy(value);
        assert_eq!(res.body().0, want, "current for {shown:?}");
        assert_eq!(res.body().1, want, "extension for {shown:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn server_max_caps_and_default_applies() {
    let layer = DeadlineLayer::new()
        .max(Duration::from_secs(1))
        .default_timeout(Duration::from_millis(800));
    let capped = layer
        .layer(handler())
        .oneshot(inbound(b"60000"))
        .await
        .expect("response");
    assert_eq!(capped.body().0, Some(Duration::from_secs(1)));
    let defaulted = layer
        .layer(handler())
        .oneshot(http::Request::new(()))
        .await
        .expect("response");
    assert_eq!(defaulted.body().0, Some(Duration::from_millis(800)));
    let malformed = layer
        .layer(handler())
        .oneshot(inbound(b"-1"))
        .await
        .expect("response");
    assert_eq!(malformed.body().0, Some(Duration::from_millis(800)));
}

#[tokio::test(start_paused = true)]
async fn no_header_no_deadline() {
    let res = DeadlineLayer::new()
        .layer(handler())
        .oneshot(http::Request::new(()))
        .await
        .expect("response");
    assert_eq!(*res.body(), (None, None));
}

/// An outbound transport recording the header it was sent and how often it was called.
#[derive(Clone, Default)]
struct Transport {
    headers: Arc<Mutex<Vec<Option<u64>>>>,
    calls: Arc<AtomicUsize>,
    delay: Duration,
}

impl Transport {
    fn service(
        &self,
    ) -> impl Service<
        http::Request<()>,
        Response = http::Response<()>,
        Error = BoxError,
        Future: Send,
    > + Clone
    + Send
    + use<> {
        let this = self.clone();
        service_fn(move |req: http::Request<()>| {
            this.calls.fetch_add(1, Ordering::SeqCst);
            let value = req
                .headers()
                .get(HEADER)
                .map(|v| v.to_str().expect("ascii").parse().expect("number"));
            this.headers.lock().expect("lock").push(value);
            let delay = this.delay;
            async move {
                tokio::time::sleep(delay).await;
                Ok::<_, BoxError>(http::Response::new(()))
            }
        })
    }

    fn sent(&self) -> Vec<Option<u64>> {
        self.headers.lock().expect("lock").clone()
    }
}

#[tokio::test(start_paused = true)]
async fn outbound_call_carries_the_remaining_budget() {
    let transport = Transport::default();
    let client = PropagateDeadlineLayer::new().layer(transport.service());
    // The server side: a handler that works 120 ms, then calls out.
    let server = DeadlineLayer::new().layer(service_fn(move |_req: http::Request<()>| {
        let client = client.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(120)).await;
            client.oneshot(http::Request::new(())).await
        }
    }));
    server.oneshot(inbound(b"500")).await.expect("response");
    assert_eq!(transport.sent(), [Some(380)]);
}

#[tokio::test(start_paused = true)]
async fn spent_budget_fails_fast_without_calling() {
    let transport = Transport::default();
    let client = PropagateDeadlineLayer::new().layer(transport.service());
    let deadline = Deadline::after(Duration::from_millis(50));
    tokio::time::sleep(Duration::from_millis(60)).await;
    let started = Instant::now();
    let err = Deadline::scope(Some(deadline), client.oneshot(http::Request::new(())))
        .await
        .expect_err("spent");
    assert!(err.is::<DeadlineExceeded>());
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(transport.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn call_is_bounded_by_the_remaining_budget() {
    let transport = Transport {
        delay: Duration::from_secs(5),
        ..Transport::default()
    };
    let client = PropagateDeadlineLayer::new().layer(transport.service());
    let mut req = http::Request::new(());
    // A deadline in the extensions works without the task-local (e.g. in a spawned task).
    req.extensions_mut()
        .insert(Deadline::after(Duration::from_millis(200)));
    let started = Instant::now();
    let err = tokio::spawn(client.oneshot(req))
        .await
        .expect("task")
        .expect_err("bounded");
    assert!(err.is::<DeadlineExceeded>());
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    assert_eq!(transport.sent(), [Some(200)]);
}

#[tokio::test(start_paused = true)]
async fn tightest_of_current_extension_and_timeout_wins() {
    let transport = Transport::default();
    let client = TimeoutLayer::overall(Duration::from_millis(300))
        .layer(PropagateDeadlineLayer::new().layer(transport.service()));
    // Current deadline 1 s, extension 700 ms, timeout 300 ms: 300 wins.
    let mut req = http::Request::new(());
    req.extensions_mut()
        .insert(Deadline::after(Duration::from_millis(700)));
    Deadline::scope(
        Some(Deadline::after(Duration::from_secs(1))),
        client.clone().oneshot(req),
    )
    .await
    .expect("response");
    // Current deadline 100 ms beats the timeout.
    Deadline::scope(
        Some(Deadline::after(Duration::from_millis(100))),
        client.oneshot(http::Request::new(())),
    )
    .await
    .expect("response");
    assert_eq!(transport.sent(), [Some(300), Some(100)]);
}

#[tokio::test(start_paused = true)]
async fn without_a_deadline_nothing_is_written() {
    let transport = Transport::default();
    let client = PropagateDeadlineLayer::new().layer(transport.service());
    client
        .oneshot(http::Request::new(()))
        .await
        .expect("response");
    assert_eq!(transport.sent(), [None]);
}

#[tokio::test(start_paused = true)]
async fn nested_scope_never_loosens_the_deadline() {
    let outer = Deadline::after(Duration::from_millis(100));
    let seen = Deadline::scope(Some(outer), async {
        Deadline::scope(Some(Deadline::after(Duration::from_secs(10))), async {
            Deadline::current()
        })
        .await
    })
    .await;
    assert_eq!(seen, Some(outer));
    assert_eq!(Deadline::current(), None);
}
