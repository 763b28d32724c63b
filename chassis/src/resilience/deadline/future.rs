use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use pin_project_lite::pin_project;
use tokio::time::{Sleep, sleep_until};
use tower::BoxError;

use super::{Deadline, DeadlineExceeded};

pin_project! {
    /// The future of [`PropagateDeadline`](super::PropagateDeadline).
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F> {
        Unbounded { #[pin] future: F },
        Bounded { #[pin] future: F, #[pin] sleep: Sleep },
        Spent,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) const fn unbounded(future: F) -> Self {
        Self {
            kind: Kind::Unbounded { future },
        }
    }

    pub(crate) fn bounded(future: F, deadline: Deadline) -> Self {
        Self {
            kind: Kind::Bounded {
                future,
                sleep: sleep_until(deadline.instant()),
            },
        }
    }

    pub(crate) const fn spent() -> Self {
        Self { kind: Kind::Spent }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Unbounded { future } => future.poll(cx).map_err(Into::into),
            KindProj::Bounded { future, sleep } => {
                if let Poll::Ready(result) = future.poll(cx) {
                    return Poll::Ready(result.map_err(Into::into));
                }
                sleep.poll(cx).map(|()| Err(DeadlineExceeded::new().into()))
            }
            KindProj::Spent => Poll::Ready(Err(DeadlineExceeded::new().into())),
        }
    }
}
