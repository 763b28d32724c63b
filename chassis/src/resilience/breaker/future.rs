//! The response future: records the outcome when the call completes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use std::sync::Arc;

use pin_project_lite::pin_project;
use tower::BoxError;

use super::core::Ticket;
use super::{BreakerOpen, CircuitBreaker, Classify, Outcome};

/// The permit of an in-flight call. It holds the service clone's own `Arc` (not the
/// breaker's), so calls from services cloned per task do not contend on one reference count.
#[derive(Debug)]
pub(crate) struct CallPermit {
    breaker: Arc<CircuitBreaker>,
    ticket: Ticket,
    done: bool,
}

impl CallPermit {
    #[inline]
    pub(crate) fn new(breaker: Arc<CircuitBreaker>, ticket: Ticket) -> Self {
        Self {
            breaker,
            ticket,
            done: false,
        }
    }

    #[inline]
    fn record(mut self, outcome: Outcome) {
        self.done = true;
        self.breaker.shared.record(self.ticket, outcome, None);
    }
}

impl Drop for CallPermit {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.shared.release(self.ticket);
        }
    }
}

pin_project! {
    /// The future of a [`super::Breaker`] call.
    #[derive(Debug)]
    pub struct ResponseFuture<F, C> {
        #[pin]
        kind: Kind<F, C>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F, C> {
        Called {
            #[pin]
            future: F,
            permit: Option<CallPermit>,
            classifier: C,
        },
        Rejected { error: Option<BreakerOpen> },
    }
}

impl<F, C> ResponseFuture<F, C> {
    #[inline]
    pub(crate) fn called(future: F, permit: CallPermit, classifier: C) -> Self {
        Self {
            kind: Kind::Called {
                future,
                permit: Some(permit),
                classifier,
            },
        }
    }

    pub(crate) fn rejected(error: BreakerOpen) -> Self {
        Self {
            kind: Kind::Rejected { error: Some(error) },
        }
    }
}

impl<F, T, E, C> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    C: Classify<T, E>,
{
    type Output = Result<T, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Called {
                future,
                permit,
                classifier,
            } => {
                let result = ready!(future.poll(cx));
                if let Some(permit) = permit.take() {
                    permit.record(classifier.classify(result.as_ref()));
                }
                Poll::Ready(result.map_err(Into::into))
            }
            KindProj::Rejected { error } => match error.take() {
                Some(error) => Poll::Ready(Err(error.into())),
                None => panic!("ResponseFuture polled after completion"),
            },
        }
    }
}
