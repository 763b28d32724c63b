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
    pub(crate) fn new(breaker: Arc<CircuitBreaker>, ticket: Ticket) -> Self {
        Self {
            breaker,
            ticket,
            done: false,
        }
    }

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
        kind: Kind<F>,
        permit: Option<CallPermit>,
        classifier: C,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F> {
        Called { #[pin] future: F },
        Rejected { error: Option<BreakerOpen> },
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn called(future: F, permit: CallPermit, classifier: C) -> Self {
        Self {
            kind: Kind::Called { future },
            permit: Some(permit),
            classifier,
        }
    }

    pub(crate) fn rejected(error: BreakerOpen, classifier: C) -> Self {
        Self {
            kind: Kind::Rejected { error: Some(error) },
            permit: None,
            classifier,
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

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.kind.project() {
            KindProj::Called { future } => {
                let result = ready!(future.poll(cx));
                if let Some(permit) = this.permit.take() {
                    permit.record(this.classifier.classify(result.as_ref()));
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
