//! [`BodyLimitLayer`]: request bodies above `server.max_body_size` get `413`.
//!
//! A declared `Content-Length` above the limit is refused before any byte of the body is
//! read; a chunked body is cut when it crosses the limit (axum's extractors answer `413`).

use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::future::{Either, Ready, ready};
use http::{Request, StatusCode, header};
use http_body_util::Limited;
use tower::{Layer, Service};

use super::Problem;

/// Limits request bodies to `max` bytes.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimitLayer {
    max: usize,
}

impl BodyLimitLayer {
    /// Limits bodies to `max` bytes.
    pub const fn new(max: usize) -> Self {
        Self { max }
    }
}

impl<S> Layer<S> for BodyLimitLayer {
    type Service = BodyLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BodyLimit {
            inner,
            max: self.max,
        }
    }
}

/// The service of [`BodyLimitLayer`].
#[derive(Debug, Clone)]
pub struct BodyLimit<S> {
    inner: S,
    max: usize,
}

impl<S, B> Service<Request<B>> for BodyLimit<S>
where
    S: Service<Request<Limited<B>>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response<Body>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max as u64) {
            super::count_rejection("body_limit");
            let response = Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
                .detail(format!("the request body exceeds {} bytes", self.max))
                .into_response();
            return Either::Right(ready(Ok(response)));
        }
        let max = self.max;
        Either::Left(self.inner.call(request.map(|body| Limited::new(body, max))))
    }
}
