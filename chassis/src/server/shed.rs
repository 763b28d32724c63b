//! [`LoadShedLayer`]: at most `max` requests in flight; beyond it, shed at once.
//!
//! tower's `LoadShed` over `ConcurrencyLimit` has the same meaning, but its semaphore takes a
//! mutex on every permit release. Here admission is one atomic add and release one atomic
//! sub: no lock, no allocation, no queue (a shed request is answered `503` with
//! `Retry-After` by [`HandleErrorLayer`](super::HandleErrorLayer) straight away).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower::load_shed::error::Overloaded;
use tower::{BoxError, Layer, Service};

/// Sheds requests beyond `max` in flight with [`Overloaded`].
#[derive(Debug, Clone)]
pub struct LoadShedLayer {
    in_flight: Arc<InFlight>,
}

/// The count of requests in flight and its limit, shared by the clones of a service.
#[derive(Debug)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    max: usize,
}

impl InFlight {
    /// At most `max` at once.
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            count: AtomicUsize::new(0),
            max,
        })
    }

    /// A slot for one more request, or `None` when `max` are in flight (shed it).
    pub(crate) fn try_acquire(self: &Arc<Self>) -> Option<Slot> {
        let previous = self.count.fetch_add(1, Ordering::Acquire);
        let slot = Slot(Arc::clone(self));
        (previous < self.max).then_some(slot)
    }
}

impl LoadShedLayer {
    /// Admits at most `max` requests at once.
    pub fn new(max: usize) -> Self {
        Self {
            in_flight: InFlight::new(max),
        }
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.count.load(Ordering::Relaxed)
    }
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoadShed {
            inner,
            in_flight: Arc::clone(&self.in_flight),
        }
    }
}

/// The service of [`LoadShedLayer`].
#[derive(Debug, Clone)]
pub struct LoadShed<S> {
    inner: S,
    in_flight: Arc<InFlight>,
}

/// Releases one in-flight slot when dropped, however the request ends.
#[derive(Debug)]
pub(crate) struct Slot(Arc<InFlight>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::Release);
    }
}

impl<S, R> Service<R> for LoadShed<S>
where
    S: Service<R>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = LoadShedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: R) -> Self::Future {
        match self.in_flight.try_acquire() {
            Some(slot) => LoadShedFuture {
                inner: Some(self.inner.call(request)),
                _slot: Some(slot),
            },
            None => LoadShedFuture {
                inner: None,
                _slot: None,
            },
        }
    }
}

pin_project! {
    /// The future of [`LoadShed`]: holds the in-flight slot until the response is ready.
    #[derive(Debug)]
    pub struct LoadShedFuture<F> {
        #[pin]
        inner: Option<F>,
        _slot: Option<Slot>,
    }
}

impl<F, T, E> Future for LoadShedFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.as_pin_mut() {
            Some(inner) => Poll::Ready(ready!(inner.poll(cx)).map_err(Into::into)),
            None => Poll::Ready(Err(Overloaded::new().into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn sheds_beyond_max_and_releases_on_completion() {
        let layer = LoadShedLayer::new(1);
        let (gate_tx, gate_rx) = tokio::sync::oneshot::channel::<()>();
        let gate = Arc::new(tokio::sync::Mutex::new(Some(gate_rx)));
        let service = layer.layer(tower::service_fn(move |(): ()| {
            let gate = Arc::clone(&gate);
            async move {
                if let Some(rx) = gate.lock().await.take() {
                    let _ = rx.await;
                }
                Ok::<_, std::convert::Infallible>("done")
            }
        }));
        let first = tokio::spawn(service.clone().oneshot(()));
        while layer.in_flight() == 0 {
            tokio::task::yield_now().await;
        }
        let shed = service.clone().oneshot(()).await.unwrap_err();
        assert!(shed.is::<Overloaded>());
        gate_tx.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), "done");
        assert_eq!(layer.in_flight(), 0);
        assert_eq!(service.oneshot(()).await.unwrap(), "done");
    }
}
