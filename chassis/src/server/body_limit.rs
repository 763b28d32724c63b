//! [`BodyLimitLayer`]: request bodies above `server.max_body_size` get `413`, and a body that
//! stalls for longer than `server.body_read_timeout` between two chunks fails the request.
//!
//! A declared `Content-Length` above the limit is refused before any byte of the body is
//! read; a chunked body is cut when it crosses the limit (axum's extractors answer `413`).
//! The read timeout is tower-http's [`TimeoutBody`]. A request that has no body at all (most
//! `GET`s) gets an empty [`Body`] instead: nothing to limit or time, and no allocation.

use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::future::{Either, Ready, ready};
use http::{Request, StatusCode, header};
use http_body_util::Limited;
use tower::{BoxError, Layer, Service};
use tower_http::timeout::TimeoutBody;

use super::Problem;

/// Limits request bodies to `max` bytes and, optionally, bounds the wait for each chunk.
///
/// ```
/// use std::time::Duration;
/// use chassis::server::BodyLimitLayer;
///
/// let layer = BodyLimitLayer::new(1 << 20).read_timeout(Duration::from_secs(30));
/// # let _ = layer;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BodyLimitLayer {
    max: usize,
    read_timeout: Option<Duration>,
}

impl BodyLimitLayer {
    /// Limits bodies to `max` bytes, with no read timeout.
    pub const fn new(max: usize) -> Self {
        Self {
            max,
            read_timeout: None,
        }
    }

    /// Fails a body that yields no chunk for `timeout`.
    #[must_use]
    pub const fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }
}

impl<S> Layer<S> for BodyLimitLayer {
    type Service = BodyLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BodyLimit {
            inner,
            layer: *self,
        }
    }
}

/// The service of [`BodyLimitLayer`]: hands the inner service a [`Body`].
#[derive(Debug, Clone)]
pub struct BodyLimit<S> {
    inner: S,
    layer: BodyLimitLayer,
}

impl<S, B> Service<Request<B>> for BodyLimit<S>
where
    S: Service<Request<Body>, Response = Response<Body>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response<Body>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match self.layer.admit(request) {
            Ok(request) => Either::Left(self.inner.call(request)),
            Err(refused) => Either::Right(ready(Ok(refused))),
        }
    }
}

impl BodyLimitLayer {
    /// The request with its body bounded, or the `413` for a declared length over the limit.
    #[allow(
        clippy::result_large_err,
        reason = "either is moved once, to the caller; the request is as large"
    )]
    pub(crate) fn admit<B>(&self, request: Request<B>) -> Result<Request<Body>, Response<Body>>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let declared = request.headers().get(header::CONTENT_LENGTH);
        self.admit_declared(declared.and_then(declared_length), request)
    }

    /// [`admit`](Self::admit) for a request declaring `declared` bytes.
    #[allow(
        clippy::result_large_err,
        reason = "either is moved once, to the caller; the request is as large"
    )]
    pub(crate) fn admit_declared<B>(
        &self,
        declared: Option<u64>,
        request: Request<B>,
    ) -> Result<Request<Body>, Response<Body>>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let Self { max, read_timeout } = *self;
        if declared.is_some_and(|len| len > max as u64) {
            super::count_rejection("body_limit");
            return Err(Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
                .detail(format!("the request body exceeds {max} bytes"))
                .into_response());
        }
        Ok(request.map(|body| {
            if body.is_end_stream() {
                Body::empty()
            } else {
                let limited = Limited::new(body, max);
                match read_timeout {
                    Some(timeout) => Body::new(TimeoutBody::new(timeout, limited)),
                    None => Body::new(limited),
                }
            }
        }))
    }
}

/// The length a `Content-Length` value declares, if it is a number.
pub(crate) fn declared_length(value: &http::HeaderValue) -> Option<u64> {
    value.to_str().ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body_util::{BodyExt as _, Full};
    use tower::ServiceExt as _;

    use super::*;

    /// Answers with the body it was given, read to the end, or the read error.
    fn echo()
    -> impl Service<
        Request<Body>,
        Response = Response<Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone {
        tower::service_fn(|request: Request<Body>| async move {
            let empty = http_body::Body::is_end_stream(request.body());
            let answer = match request.into_body().collect().await {
                Ok(bytes) => format!(
                    "empty={empty} {}",
                    String::from_utf8_lossy(&bytes.to_bytes())
                ),
                Err(error) => format!("error {error}"),
            };
            Ok(Response::new(Body::from(answer)))
        })
    }

    async fn send<B>(body: B, declared: Option<usize>) -> (StatusCode, String)
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let mut request = Request::new(body);
        if let Some(len) = declared {
            request
                .headers_mut()
                .insert(header::CONTENT_LENGTH, len.into());
        }
        let service = BodyLimitLayer::new(8)
            .read_timeout(Duration::from_secs(5))
            .layer(echo());
        let Ok(response) = service.oneshot(request).await;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("in memory")
            .to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn no_body_stays_empty_small_passes_large_is_cut_or_refused() {
        assert_eq!(
            send(http_body_util::Empty::<Bytes>::new(), None).await,
            (StatusCode::OK, "empty=true ".to_owned())
        );
        assert_eq!(
            send(Full::new(Bytes::from_static(b"12345678")), None).await,
            (StatusCode::OK, "empty=false 12345678".to_owned())
        );
        let (status, answer) = send(Full::new(Bytes::from_static(b"123456789")), None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            answer.starts_with("error length limit exceeded"),
            "{answer}"
        );
        let (status, _) = send(Full::new(Bytes::from_static(b"123456789")), Some(9)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
