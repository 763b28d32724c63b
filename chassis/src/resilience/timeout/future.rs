use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use pin_project_lite::pin_project;
use tokio::time::{Sleep, sleep_until};
use tower::BoxError;

use super::Elapsed;
use crate::resilience::deadline::{Deadline, DeadlineExceeded};

pin_project! {
    /// The future of [`Timeout`](super::Timeout).
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        // `None`: no timeout applies to this call.
        #[pin]
        sleep: Option<Sleep>,
        elapsed: Elapsed,
        own_deadline: Option<Deadline>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        at: Deadline,
        elapsed: Elapsed,
        own_deadline: Option<Deadline>,
    ) -> Self {
        Self {
            inner,
            sleep: Some(sleep_until(at.instant())),
            elapsed,
            own_deadline,
        }
    }

    pub(crate) fn unbounded(inner: F) -> Self {
        Self {
            inner,
            sleep: None,
            elapsed: Elapsed::new(std::time::Duration::ZERO, super::TimeoutKind::Overall),
            own_deadline: None,
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let elapsed = *this.elapsed;
        let own_deadline = *this.own_deadline;
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result.map_err(|err| {
                let err = err.into();
                let ours =
                    err.is::<DeadlineExceeded>() && own_deadline.is_some_and(Deadline::is_expired);
                if ours { elapsed.into() } else { err }
            }));
        }
        match this.sleep.as_pin_mut() {
            Some(sleep) => sleep.poll(cx).map(|()| Err(elapsed.into())),
            None => Poll::Pending,
        }
    }
}
