//! The bulkhead: permits, the bounded wait queue, the wait timeout, rejections and their
//! metrics, and permits returned by cancelled calls. Time is paused.

use std::time::Duration;

use chassis::resilience::bulkhead::{BulkheadFull, BulkheadLayer, BulkheadRejection};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tokio::{sync::oneshot, task::JoinHandle, time::Instant};
use tower::{BoxError, Layer, Service, ServiceExt, service_fn};

/// A call finishes when its sender is used or dropped.
type Req = oneshot::Receiver<()>;

fn held() -> impl Service<Req, Response = (), Error = BoxError, Future: Send> + Clone + Send {
    service_fn(|rx: Req| async move {
        let _ = rx.await;
        Ok::<_, BoxError>(())
    })
}

fn layer(rec: &DebuggingRecorder, permits: usize, queue: usize, wait: Duration) -> BulkheadLayer {
    metrics::with_local_recorder(rec, || {
        BulkheadLayer::builder("catalog")
            .max_concurrent(permits)
            .max_queue(queue)
            .max_wait(wait)
            .build()
    })
}

/// Starts a call on its own task; returns its release switch and its handle.
async fn start<S>(svc: &S) -> (oneshot::Sender<()>, JoinHandle<Result<(), BoxError>>)
where
    S: Service<Req, Response = (), Error = BoxError, Future: Send> + Clone + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let handle = tokio::spawn(svc.clone().oneshot(rx));
    settle().await;
    (tx, handle)
}

async fn settle() {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}

fn rejection(err: &BoxError) -> BulkheadRejection {
    err.downcast_ref::<BulkheadFull>()
        .expect("a BulkheadFull")
        .reason()
}

fn rejected(snapshotter: &Snapshotter) -> (u64, u64) {
    let mut counts = (0, 0);
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        if key.name() != "chassis_bulkhead_rejected_total" {
            continue;
        }
        assert!(
            key.labels()
                .any(|l| l.key() == "client" && l.value() == "catalog")
        );
        let DebugValue::Counter(n) = value else {
            continue;
        };
        if key.labels().any(|l| l.value() == "queue_full") {
            counts.0 += n;
        } else if key.labels().any(|l| l.value() == "wait_timeout") {
            counts.1 += n;
        }
    }
    counts
}

#[tokio::test(start_paused = true)]
async fn without_a_queue_extra_calls_are_rejected_at_once() {
    let rec = DebuggingRecorder::new();
    let snap = rec.snapshotter();
    let bulkhead = layer(&rec, 2, 0, Duration::ZERO);
    let svc = bulkhead.layer(held());
    let (a, call_a) = start(&svc).await;
    let (b, call_b) = start(&svc).await;
    assert_eq!(bulkhead.available_permits(), 0);

    let (_c, rx) = oneshot::channel();
    let err = svc.clone().oneshot(rx).await.expect_err("rejected");
    assert_eq!(rejection(&err), BulkheadRejection::QueueFull);
    assert!(err.to_string().contains("queue is full"), "{err}");

    a.send(()).expect("send");
    b.send(()).expect("send");
    call_a.await.expect("task").expect("ok");
    call_b.await.expect("task").expect("ok");
    assert_eq!(bulkhead.available_permits(), 2);
    assert_eq!(rejected(&snap), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn full_queue_rejects_and_queued_call_runs_when_a_permit_frees() {
    let rec = DebuggingRecorder::new();
    let snap = rec.snapshotter();
    let bulkhead = layer(&rec, 1, 1, Duration::from_secs(1));
    let svc = bulkhead.layer(held());
    let (first, call_first) = start(&svc).await;
    let (second, call_second) = start(&svc).await;
    assert_eq!(bulkhead.queued(), 1);

    let (_third, rx) = oneshot::channel();
    let err = svc.clone().oneshot(rx).await.expect_err("queue full");
    assert_eq!(rejection(&err), BulkheadRejection::QueueFull);

    first.send(()).expect("send");
    call_first.await.expect("task").expect("ok");
    settle().await;
    assert_eq!(bulkhead.queued(), 0);
    assert_eq!(bulkhead.available_permits(), 0, "the queued call holds it");
    second.send(()).expect("send");
    call_second.await.expect("task").expect("ok");
    assert_eq!(bulkhead.available_permits(), 1);
    assert_eq!(rejected(&snap), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn queued_call_times_out_after_max_wait() {
    let rec = DebuggingRecorder::new();
    let snap = rec.snapshotter();
    let bulkhead = layer(&rec, 1, 4, Duration::from_millis(50));
    let svc = bulkhead.layer(held());
    let (_first, _call_first) = start(&svc).await;

    let (_tx, rx) = oneshot::channel();
    let started = Instant::now();
    let err = svc.clone().oneshot(rx).await.expect_err("wait timeout");
    assert_eq!(rejection(&err), BulkheadRejection::WaitTimeout);
    assert!(
        err.downcast_ref::<BulkheadFull>()
            .expect("leaf")
            .is_wait_timeout()
    );
    assert_eq!(started.elapsed(), Duration::from_millis(50));
    assert_eq!(bulkhead.queued(), 0);
    assert_eq!(rejected(&snap), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn cancelled_calls_give_back_permit_and_queue_place() {
    let rec = DebuggingRecorder::new();
    let bulkhead = layer(&rec, 1, 1, Duration::from_secs(10));
    let svc = bulkhead.layer(held());

    // A running call is dropped (e.g. the caller timed out): its permit comes back.
    let (_running, call_running) = start(&svc).await;
    let (_queued, call_queued) = start(&svc).await;
    assert_eq!((bulkhead.available_permits(), bulkhead.queued()), (0, 1));

    call_queued.abort();
    settle().await;
    assert_eq!(bulkhead.queued(), 0, "the queue place is released");

    call_running.abort();
    settle().await;
    assert_eq!(bulkhead.available_permits(), 1, "the permit is released");

    // And the bulkhead is fully usable again.
    let (tx, rx) = oneshot::channel();
    tx.send(()).expect("send");
    svc.oneshot(rx).await.expect("ok");
}

#[tokio::test(start_paused = true)]
async fn clones_and_services_of_one_layer_share_permits() {
    let rec = DebuggingRecorder::new();
    let bulkhead = layer(&rec, 1, 0, Duration::ZERO);
    let a = bulkhead.layer(held());
    let b = bulkhead.clone().layer(held());
    let (_hold, _call) = start(&a).await;
    let (_tx, rx) = oneshot::channel();
    let err = b.oneshot(rx).await.expect_err("shared limit");
    assert_eq!(rejection(&err), BulkheadRejection::QueueFull);
}
