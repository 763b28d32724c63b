//! [`RequestTimeoutLayer`]: a request that is not done in time fails with
//! [`Elapsed`] (answered `504`).
//!
//! tower-http's `TimeoutLayer` arms a timer before polling the handler; tower's `Timeout`
//! still reads the clock and registers with the runtime's timer for every request. This one
//! polls the handler first and creates the timer only when the handler is not ready at once,
//! so a fast handler costs no clock read and no timer; a slow one gets the full timeout from
//! its first poll.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::timeout::error::Elapsed;
use tower::{BoxError, Layer, Service};

use crate::telemetry::http::abandon::drop_expired;

/// Fails requests that take longer than `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct RequestTimeoutLayer {
    timeout: Duration,
}

impl RequestTimeoutLayer {
    /// Fails requests after `timeout`.
    pub const fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for RequestTimeoutLayer {
    type Service = RequestTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestTimeout {
            inner,
            timeout: self.timeout,
        }
    }
}

/// The service of [`RequestTimeoutLayer`].
#[derive(Debug, Clone)]
pub struct RequestTimeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S, R> Service<R> for RequestTimeout<S>
where
    S: Service<R>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = RequestTimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: R) -> Self::Future {
        RequestTimeoutFuture {
            inner: Some(self.inner.call(request)),
            timeout: self.timeout,
            sleep: None,
        }
    }
}

pin_project! {
    /// The future of [`RequestTimeout`].
    #[derive(Debug)]
    pub struct RequestTimeoutFuture<F> {
        // Dropped as soon as the time is up (see `dropping_expired`).
        #[pin]
        inner: Option<F>,
        timeout: Duration,
        // Boxed so the common, fast path keeps a small future; allocated only when needed.
        sleep: Option<Pin<Box<Sleep>>>,
    }
}

impl<F, T, E> Future for RequestTimeoutFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(Elapsed::new().into()));
        };
        if let Poll::Ready(result) = inner.poll(cx) {
            return Poll::Ready(result.map_err(Into::into));
        }
        let timeout = *this.timeout;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                drop_expired(this.inner);
                Poll::Ready(Err(Elapsed::new().into()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test(start_paused = true)]
    async fn fails_slow_requests_and_passes_fast_ones() {
        let layer = RequestTimeoutLayer::new(Duration::from_millis(100));
        let slow = layer.layer(tower::service_fn(|ms: u64| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok::<_, std::convert::Infallible>(ms)
        }));
        assert_eq!(slow.clone().oneshot(50).await.unwrap(), 50);
        let error = slow.oneshot(150).await.unwrap_err();
        assert!(error.is::<Elapsed>());
    }
}
