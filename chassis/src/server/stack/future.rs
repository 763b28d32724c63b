//! The future of [`StandardStack`](super::StandardStack).

use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::header::CONNECTION;
use http::{HeaderValue, StatusCode};
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::BoxError;
use tower::timeout::error::Elapsed;

use crate::resilience::deadline::Deadline;
use crate::server::shed::Slot;
use crate::server::{Problem, error_response, panic::panic_response, request_id};
use crate::telemetry::http::abandon::drop_expired;

pin_project! {
    /// Polls the handler (under its deadline, catching panics), arms the request timeout only
    /// when the handler is not ready at once, turns every failure into its problem response
    /// and puts the request id (and, while shutting down, `Connection: close`) on whatever
    /// goes out.
    pub struct StandardStackFuture<F> {
        #[pin]
        kind: Kind<F>,
        id: Option<HeaderValue>,
        close: bool,
        // A gRPC call: what the stack answers itself is made a gRPC answer.
        grpc: bool,
    }
}

pin_project! {
    #[project = KindProj]
    pub(super) enum Kind<F> {
        Running {
            // Dropped as soon as the request is answered or out of time.
            #[pin]
            inner: Option<F>,
            // Boxed so the common, fast path keeps a small future; allocated only when needed.
            sleep: Option<Pin<Box<Sleep>>>,
            timeout: Duration,
            deadline: Option<Deadline>,
            // The request's place under the concurrency limit.
            _slot: Slot,
        },
        Answered { response: Option<Response> },
    }
}

impl<F> StandardStackFuture<F> {
    pub(super) fn new(kind: Kind<F>, id: HeaderValue) -> Self {
        Self {
            kind,
            id: Some(id),
            close: false,
            grpc: false,
        }
    }

    /// Whether the request is a gRPC call, answered with `grpc-status` instead of a problem.
    pub(super) fn grpc(mut self, grpc: bool) -> Self {
        self.grpc = grpc;
        self
    }

    /// Whether the answer tells the caller to close the connection.
    pub(super) fn close_connection(mut self, close: bool) -> Self {
        self.close = close;
        self
    }

    /// A request the stack answers itself (shed, refused body, panic in `call`).
    pub(super) fn answered(response: Response, id: HeaderValue) -> Self {
        Self::new(
            Kind::Answered {
                response: Some(response),
            },
            id,
        )
    }
}

impl<F> std::fmt::Debug for StandardStackFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandardStackFuture")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<F, E> Future for StandardStackFuture<F>
where
    F: Future<Output = Result<Response, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let mut response = match this.kind.as_mut().project() {
            KindProj::Answered { response } => response
                .take()
                .unwrap_or_else(|| Problem::new(StatusCode::INTERNAL_SERVER_ERROR).into_response()),
            KindProj::Running {
                mut inner,
                sleep,
                timeout,
                deadline,
                ..
            } => {
                let Some(future) = inner.as_mut().as_pin_mut() else {
                    return Poll::Ready(Ok(timed_out()));
                };
                let deadline = *deadline;
                let polled = catch_unwind(AssertUnwindSafe(|| match deadline {
                    Some(deadline) => {
                        Deadline::sync_scope_exact(Some(deadline), || future.poll(cx))
                    }
                    None => future.poll(cx),
                }));
                match polled {
                    Ok(Poll::Ready(Ok(response))) => response,
                    Ok(Poll::Ready(Err(error))) => error_response(&error.into()),
                    Err(panic) => panic_response(&*panic, this.id.as_ref()),
                    Ok(Poll::Pending) => {
                        let timeout = *timeout;
                        let sleep =
                            sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                        if sleep.as_mut().poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                        drop_expired(inner);
                        timed_out()
                    }
                }
            }
        };
        // Done: the handler's future and the concurrency slot go now.
        this.kind.set(Kind::Answered { response: None });
        #[cfg(feature = "grpc")]
        if *this.grpc {
            response = crate::grpc::to_grpc(response);
        }
        if let Some(id) = this.id.take() {
            request_id::echo(&mut response, id);
        }
        if *this.close {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        Poll::Ready(Ok(response))
    }
}

/// The `504` of a request out of time.
fn timed_out() -> Response {
    let elapsed: BoxError = Elapsed::new().into();
    error_response(&elapsed)
}
