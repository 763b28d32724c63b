use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use pin_project_lite::pin_project;
use tokio::sync::{AcquireError, OwnedSemaphorePermit};
use tower::{BoxError, Service};

use super::{BulkheadFull, BulkheadRejection, layer::Shared};

type Acquire = Pin<
    Box<
        dyn Future<
                Output = Result<
                    Result<OwnedSemaphorePermit, AcquireError>,
                    tokio::time::error::Elapsed,
                >,
            > + Send,
    >,
>;

/// A call waiting in the queue: the ready service, the request and the bounded acquire.
struct Wait<S, Req> {
    service: S,
    request: Option<Req>,
    acquire: Acquire,
    shared: Arc<Shared>,
}

impl<S, Req> Drop for Wait<S, Req> {
    fn drop(&mut self) {
        self.shared.leave_queue();
    }
}

pin_project! {
    #[project = CallProj]
    enum Call<F> {
        Idle,
        Running { #[pin] future: F },
    }
}

pin_project! {
    /// The future of [`Bulkhead`](super::Bulkhead).
    pub struct ResponseFuture<S, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        call: Call<S::Future>,
        permit: Option<OwnedSemaphorePermit>,
        wait: Option<Box<Wait<S, Req>>>,
        rejected: Option<BulkheadRejection>,
    }
}

impl<S: Service<Req>, Req> ResponseFuture<S, Req> {
    pub(crate) fn running(future: S::Future, permit: OwnedSemaphorePermit) -> Self {
        Self {
            call: Call::Running { future },
            permit: Some(permit),
            wait: None,
            rejected: None,
        }
    }

    pub(crate) fn rejected(reason: BulkheadRejection) -> Self {
        Self {
            call: Call::Idle,
            permit: None,
            wait: None,
            rejected: Some(reason),
        }
    }

    pub(crate) fn waiting(service: S, request: Req, shared: Arc<Shared>) -> Self {
        let semaphore = Arc::clone(&shared.semaphore);
        let acquire = Box::pin(tokio::time::timeout(
            shared.max_wait,
            semaphore.acquire_owned(),
        ));
        Self {
            call: Call::Idle,
            permit: None,
            wait: Some(Box::new(Wait {
                service,
                request: Some(request),
                acquire,
                shared,
            })),
            rejected: None,
        }
    }
}

impl<S, Req> Future for ResponseFuture<S, Req>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(reason) = this.rejected.take() {
            return Poll::Ready(Err(BulkheadFull::new(reason).into()));
        }
        if let Some(wait) = this.wait.as_mut() {
            // The semaphore is never closed; a closed one would count as a wait timeout.
            let Ok(Ok(permit)) = ready!(wait.acquire.as_mut().poll(cx)) else {
                wait.shared.rejected(BulkheadRejection::WaitTimeout);
                *this.wait = None;
                return Poll::Ready(Err(BulkheadFull::new(BulkheadRejection::WaitTimeout).into()));
            };
            let request = wait.request.take().expect("request is taken once");
            let future = wait.service.call(request);
            *this.permit = Some(permit);
            *this.wait = None;
            this.call.set(Call::Running { future });
        }
        match this.call.project() {
            CallProj::Running { future } => {
                let output = ready!(future.poll(cx)).map_err(Into::into);
                this.permit.take();
                Poll::Ready(output)
            }
            CallProj::Idle => panic!("bulkhead future polled after completion"),
        }
    }
}

impl<S: Service<Req>, Req> fmt::Debug for ResponseFuture<S, Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("permit", &self.permit.is_some())
            .field("queued", &self.wait.is_some())
            .finish_non_exhaustive()
    }
}
