use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use pin_project_lite::pin_project;
use tower::BoxError;

use super::Elapsed;
use crate::resilience::deadline::{Deadline, DeadlineExceeded};

pin_project! {
    /// The future of [`Timeout`](super::Timeout).
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: tower::timeout::future::ResponseFuture<F>,
        elapsed: Elapsed,
        own_deadline: Option<Deadline>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) const fn new(
        inner: tower::timeout::future::ResponseFuture<F>,
        elapsed: Elapsed,
        own_deadline: Option<Deadline>,
    ) -> Self {
        Self {
            inner,
            elapsed,
            own_deadline,
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
        this.inner.poll(cx).map_err(|err| {
            let ours = err.is::<tower::timeout::error::Elapsed>()
                || (err.is::<DeadlineExceeded>() && own_deadline.is_some_and(Deadline::is_expired));
            if ours { elapsed.into() } else { err }
        })
    }
}
