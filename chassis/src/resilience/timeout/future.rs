use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use pin_project_lite::pin_project;
use tower::BoxError;

use super::Elapsed;

pin_project! {
    /// The future of [`Timeout`](super::Timeout).
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: tower::timeout::future::ResponseFuture<F>,
        elapsed: Elapsed,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) const fn new(
        inner: tower::timeout::future::ResponseFuture<F>,
        elapsed: Elapsed,
    ) -> Self {
        Self { inner, elapsed }
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
        this.inner.poll(cx).map_err(|err| {
            if err.is::<tower::timeout::error::Elapsed>() {
                elapsed.into()
            } else {
                err
            }
        })
    }
}
