//! [`CatchPanicLayer`]: a panicking handler becomes a `500`, and the process lives on.
//!
//! tower-http has `CatchPanic`, but it boxes every response body; this one keeps axum's
//! `Body`, so it costs nothing on the normal path but the unwind guard and a copy of the
//! request's `x-request-id` (a [`RequestIdLayer`](super::RequestIdLayer) outside it puts one
//! there), which the `500` names, as the standard stack's does.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt as _;
use futures_util::future::CatchUnwind;
use http::{HeaderValue, Request, StatusCode};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::{Problem, REQUEST_ID};

/// Answers `500` when the wrapped service panics, in `call` or in its future.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatchPanicLayer;

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic { inner }
    }
}

/// The service of [`CatchPanicLayer`].
#[derive(Debug, Clone)]
pub struct CatchPanic<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for CatchPanic<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = CatchPanicFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let id = request.headers().get(REQUEST_ID).cloned();
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(future) => CatchPanicFuture {
                kind: Kind::Running {
                    future: AssertUnwindSafe(future).catch_unwind(),
                },
                id,
            },
            Err(panic) => CatchPanicFuture {
                kind: Kind::Panicked { panic: Some(panic) },
                id,
            },
        }
    }
}

pin_project! {
    /// The future of [`CatchPanic`].
    pub struct CatchPanicFuture<F> {
        #[pin]
        kind: Kind<F>,
        // The request's id, for the `500`.
        id: Option<HeaderValue>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Running { #[pin] future: CatchUnwind<AssertUnwindSafe<F>> },
        Panicked { panic: Option<Box<dyn Any + Send>> },
    }
}

impl<F> std::fmt::Debug for CatchPanicFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatchPanicFuture").finish_non_exhaustive()
    }
}

impl<F, E> Future for CatchPanicFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let id = this.id.as_ref();
        match this.kind.project() {
            KindProj::Running { future } => match ready!(future.poll(cx)) {
                Ok(result) => Poll::Ready(result),
                Err(panic) => Poll::Ready(Ok(panic_response(&*panic, id))),
            },
            KindProj::Panicked { panic } => {
                let message = panic.take();
                Poll::Ready(Ok(panic_response(message.as_deref().unwrap_or(&()), id)))
            }
        }
    }
}

/// The `500` for a caught panic; logs it (with the request's id when known: the line is
/// written outside the request's context) and counts it.
pub(crate) fn panic_response(
    panic: &(dyn Any + Send),
    request_id: Option<&HeaderValue>,
) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_owned());
    let request_id = request_id.and_then(|id| id.to_str().ok());
    tracing::error!(panic = %message, request_id, "request handler panicked");
    super::count_rejection("panic");
    let problem =
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR).detail("the request handler failed");
    match request_id {
        Some(id) => problem.request_id(id),
        None => problem,
    }
    .into_response()
}
