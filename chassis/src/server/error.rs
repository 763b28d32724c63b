//! The one place where middleware errors become HTTP responses.
//!
//! Layers return small typed errors boxed as [`BoxError`]; [`status_for`] walks the
//! `source()` chain to classify them, and [`HandleErrorLayer`] answers
//! `application/problem+json` so the connection never sees an error.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Request, StatusCode, header};
use pin_project_lite::pin_project;
use tower::{BoxError, Layer, Service};

use super::Problem;

/// Seconds suggested to shed clients before they try again: one of these at random, so
/// that the callers shed in one tick do not all come back in the next.
const RETRY_AFTER_SECONDS: [&str; 3] = ["1", "2", "3"];

/// A `Retry-After` drawn from [`RETRY_AFTER_SECONDS`].
fn retry_after() -> HeaderValue {
    HeaderValue::from_static(RETRY_AFTER_SECONDS[fastrand::usize(..RETRY_AFTER_SECONDS.len())])
}

/// The `Retry-After` for a call an open breaker refused: the time until it lets trial calls
/// through, rounded up, plus 0 to 2 s at random (its few trial calls are not met by every
/// caller at once); [`retry_after`] when that time is not known.
fn retry_after_breaker(error: &(dyn std::error::Error + 'static)) -> HeaderValue {
    let mut current = Some(error);
    while let Some(err) = current {
        if let Some(open) = err.downcast_ref::<crate::resilience::breaker::BreakerOpen>() {
            return match open.trial_in() {
                Some(wait) => {
                    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                    HeaderValue::from(seconds.max(1) + fastrand::u64(..=2))
                }
                None => retry_after(),
            };
        }
        current = err.source();
    }
    retry_after()
}

/// The status a middleware error maps to.
pub fn status_for(error: &(dyn std::error::Error + 'static)) -> StatusCode {
    let mut current = Some(error);
    while let Some(err) = current {
        if err.is::<tower::timeout::error::Elapsed>() {
            return StatusCode::GATEWAY_TIMEOUT;
        }
        if err.is::<tower::load_shed::error::Overloaded>() {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        current = err.source();
    }
    StatusCode::INTERNAL_SERVER_ERROR
}

/// Turns a middleware error into its problem response.
pub fn error_response(error: &BoxError) -> Response {
    let status = status_for(error.as_ref());
    let detail = match status {
        StatusCode::GATEWAY_TIMEOUT => "the request took longer than the server allows",
        StatusCode::SERVICE_UNAVAILABLE => "the server is at its concurrency limit; retry later",
        _ => "the server failed to handle the request",
    };
    let reason = match status {
        StatusCode::GATEWAY_TIMEOUT => "timeout",
        StatusCode::SERVICE_UNAVAILABLE => "shed",
        _ => "error",
    };
    count_rejection(reason);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %error, "request failed in middleware");
    }
    let mut response = Problem::new(status).detail(detail).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry_after());
    }
    response
}

/// The answer to a handler's failed outbound call: `504` when it ran out of time (the
/// client's timeout or the caller's deadline), `503` when a local breaker or bulkhead
/// refused it or no endpoint is known (with `Retry-After`: for an open breaker, the time
/// until its trial calls, plus up to 2 s), `502` when the dependency
/// failed, `500` for a request the handler built wrong. The error's text goes to the log,
/// with the request id; the caller gets a generic detail and the request id, never internal
/// text.
pub fn client_error_response(error: &crate::client::ClientError) -> Response {
    use crate::client::ClientErrorKind as Kind;
    if let Some(refused) = forwarded_body_refusal(error) {
        tracing::debug!(%error, "the caller's body was refused while it was forwarded");
        return refused;
    }
    let (status, detail) = match error.kind() {
        Kind::Timeout | Kind::DeadlineExceeded => (
            StatusCode::GATEWAY_TIMEOUT,
            "a service this request needs did not answer in time",
        ),
        Kind::BreakerOpen | Kind::Rejected | Kind::NoEndpoint => (
            StatusCode::SERVICE_UNAVAILABLE,
            "a service this request needs is unavailable; retry later",
        ),
        Kind::InvalidRequest => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server failed to handle the request",
        ),
        _ => (
            StatusCode::BAD_GATEWAY,
            "a service this request needs failed",
        ),
    };
    tracing::warn!(%error, kind = error.kind().as_str(), "outbound call failed");
    let mut response = Problem::new(status)
        .detail(detail)
        .current_request_id()
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        let retry_after = match error.kind() {
            Kind::BreakerOpen => retry_after_breaker(error),
            _ => retry_after(),
        };
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry_after);
    }
    response
}

/// The answer when a call failed because the inbound body it forwarded was refused: too
/// large (`413`, as the stack answers a declared one) or stalled (`400`).
fn forwarded_body_refusal(error: &crate::client::ClientError) -> Option<Response> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(err) = current {
        let refusal = if err.is::<http_body_util::LengthLimitError>() {
            Some((
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is larger than the server accepts",
            ))
        } else if err.is::<tower_http::timeout::TimeoutError>() {
            Some((StatusCode::BAD_REQUEST, "the request body stalled"))
        } else {
            None
        };
        if let Some((status, detail)) = refusal {
            count_rejection("body_limit");
            return Some(
                Problem::new(status)
                    .detail(detail)
                    .current_request_id()
                    .into_response(),
            );
        }
        current = err.source();
    }
    None
}

/// Counts a request the stack answered itself (`chassis_server_rejected_total{reason}`).
/// Shed requests and bodies refused by declared length never reach the router, so the RED
/// histogram (recorded per route) sees only the timeouts and panics among them.
pub fn count_rejection(reason: &'static str) {
    metrics::counter!("chassis_server_rejected_total", "reason" => reason).increment(1);
}

/// Converts the errors of the wrapped service into problem responses.
#[derive(Debug, Clone, Copy, Default)]
pub struct HandleErrorLayer;

impl<S> Layer<S> for HandleErrorLayer {
    type Service = HandleError<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HandleError {
            inner,
            not_ready: None,
        }
    }
}

/// The service of [`HandleErrorLayer`].
#[derive(Debug)]
pub struct HandleError<S> {
    inner: S,
    not_ready: Option<Response<Body>>,
}

impl<S: Clone> Clone for HandleError<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            not_ready: None,
        }
    }
}

impl<S, B> Service<Request<B>> for HandleError<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = HandleErrorFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // A readiness error is answered by the next call instead of reaching the connection.
        if let Err(error) = ready!(self.inner.poll_ready(cx)) {
            self.not_ready = Some(error_response(&error.into()));
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match self.not_ready.take() {
            Some(response) => HandleErrorFuture {
                kind: Kind::Answered {
                    response: Some(response),
                },
            },
            None => HandleErrorFuture {
                kind: Kind::Inner {
                    inner: self.inner.call(request),
                },
            },
        }
    }
}

pin_project! {
    /// The future of [`HandleError`].
    #[derive(Debug)]
    pub struct HandleErrorFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F> {
        Inner { #[pin] inner: F },
        Answered { response: Option<Response<Body>> },
    }
}

impl<F, E> Future for HandleErrorFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { inner } => match ready!(inner.poll(cx)) {
                Ok(response) => Poll::Ready(Ok(response)),
                Err(error) => Poll::Ready(Ok(error_response(&error.into()))),
            },
            KindProj::Answered { response } => {
                Poll::Ready(Ok(response.take().unwrap_or_else(|| {
                    Problem::new(StatusCode::INTERNAL_SERVER_ERROR).into_response()
                })))
            }
        }
    }
}
