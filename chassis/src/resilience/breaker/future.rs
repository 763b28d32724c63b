//! The response future: records the outcome when the call completes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower::BoxError;

use super::core::Ticket;
use super::spare;
use super::{BreakerOpen, CircuitBreaker, Classify, Outcome};

/// The permit of an in-flight call, with its own handle on the breaker (taken from the
/// thread's [spare](super::spare) and left there again when done).
#[derive(Debug)]
pub(crate) struct CallPermit {
    /// `None` once the outcome is recorded.
    breaker: Option<CircuitBreaker>,
    ticket: Ticket,
}

impl CallPermit {
    #[inline]
    pub(crate) fn new(breaker: CircuitBreaker, ticket: Ticket) -> Self {
        Self {
            breaker: Some(breaker),
            ticket,
        }
    }

    /// Records the outcome (once; later calls do nothing).
    #[inline]
    fn record(&mut self, outcome: Outcome) {
        if let Some(breaker) = self.breaker.take() {
            breaker.shared.record(self.ticket, outcome, None);
            spare::keep(breaker);
        }
    }
}

impl Drop for CallPermit {
    fn drop(&mut self) {
        if let Some(breaker) = self.breaker.take() {
            breaker.shared.release(self.ticket);
            spare::keep(breaker);
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
            permit: CallPermit,
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
                permit,
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
                permit.record(classifier.classify(result.as_ref()));
                Poll::Ready(result.map_err(Into::into))
            }
            KindProj::Rejected { error } => match error.take() {
                Some(error) => Poll::Ready(Err(error.into())),
                None => panic!("ResponseFuture polled after completion"),
            },
        }
    }
}
