//! Bulkhead: a concurrency limit with a bounded wait queue and a wait timeout.
//!
//! ```
//! use std::time::Duration;
//! use chassis::resilience::bulkhead::BulkheadLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! let layer = BulkheadLayer::builder("catalog")
//!     .max_concurrent(32)
//!     .max_queue(16)
//!     .max_wait(Duration::from_millis(50))
//!     .build();
//! let svc = ServiceBuilder::new()
//!     .layer(layer)
//!     .service(service_fn(|n: u32| async move { Ok::<_, tower::BoxError>(n * 2) }));
//! assert_eq!(svc.oneshot(21).await?, 42);
//! # Ok(())
//! # }
//! ```
//!
//! # Why
//!
//! A slow dependency ties up whatever calls it: tasks, connections, memory. A bulkhead bounds
//! how much of the process one dependency can hold, so the rest keeps working. Unlike
//! `tower::limit::ConcurrencyLimit`, which makes callers wait in `poll_ready` for as long as
//! it takes, a bulkhead lets at most `max_queue` calls wait, each at most `max_wait`, and
//! rejects the rest at once with [`BulkheadFull`] (saying which limit was hit), counted in
//! `chassis_bulkhead_rejected_total{client,reason}`. Failing fast keeps latency bounded and
//! gives the caller a clear signal to shed or degrade.
//!
//! The fast path takes a free permit with `Semaphore::try_acquire` (no lock, no allocation);
//! only queued calls allocate their wait. The permit is held until the inner future
//! completes (for HTTP: until the response head arrives) and is released when the future is
//! dropped, so cancelled calls give their permit back. The inner service must be `Clone`
//! because a queued call takes the service with it.

mod error;
mod future;
mod layer;

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use tower::{BoxError, Service};

pub use error::{BulkheadFull, BulkheadRejection};
pub use future::ResponseFuture;
pub use layer::{BulkheadBuilder, BulkheadLayer};

use layer::Shared;

/// The service of [`BulkheadLayer`].
#[derive(Debug, Clone)]
pub struct Bulkhead<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Bulkhead<S> {
    pub(crate) const fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S, Req> Service<Req> for Bulkhead<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        if let Ok(permit) = Arc::clone(&self.shared.semaphore).try_acquire_owned() {
            return ResponseFuture::running(self.inner.call(req), permit);
        }
        if !self.shared.enter_queue() {
            self.shared.rejected(BulkheadRejection::QueueFull);
            return ResponseFuture::rejected(BulkheadRejection::QueueFull);
        }
        // The ready service goes with the queued call; this one keeps a fresh clone.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::waiting(ready, req, Arc::clone(&self.shared))
    }
}
