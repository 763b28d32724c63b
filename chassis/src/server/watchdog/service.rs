//! [`Watched`]: counts a connection's requests in and out for its [`Watchdog`](super::Watchdog),
//! and tells it when the connection speaks HTTP/2.
//!
//! A request counts in when hyper hands it to the service and out when hyper drops its
//! response body: once the last chunk is queued for writing, or when the request is
//! abandoned. A response that streams (or pauses between events) keeps its request in flight.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response, Version};
use http_body::{Frame, SizeHint};
use pin_project_lite::pin_project;

use super::{Activity, InFlight};

/// A connection's hyper service: counts each request in when it is handed to `inner` and out
/// when hyper is done with its response body (or the request is dropped), so a streamed
/// response counts as in flight for as long as it streams.
#[derive(Debug)]
pub(in crate::server) struct Watched<S> {
    /// The connection's service.
    inner: S,
    /// Where the connection's requests are counted.
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    pub(in crate::server) fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<S, B> hyper::service::Service<Request<B>> for Watched<S>
where
    S: hyper::service::Service<Request<B>, Response = Response<Body>>,
    B: http_body::Body,
{
    type Response = Response<WatchedBody>;
    type Error = S::Error;
    type Future = WatchedFuture<S::Future>;

    fn call(&self, request: Request<B>) -> Self::Future {
        if request.version() == Version::HTTP_2 {
            self.activity.speaks_http2();
        }
        let in_flight = self.activity.start(!request.body().is_end_stream());
        WatchedFuture {
            inner: self.inner.call(request),
            in_flight: Some(in_flight),
        }
    }
}

pin_project! {
    /// The future of [`Watched`]: hands the request's count to its response body.
    #[derive(Debug)]
    pub(in crate::server) struct WatchedFuture<F> {
        #[pin]
        inner: F,
        // The request's count, until it goes to the response body.
        in_flight: Option<InFlight>,
    }
}

impl<F, E> Future for WatchedFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
{
    type Output = Result<Response<WatchedBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let in_flight = this.in_flight.take();
        Poll::Ready(Ok(response.map(|inner| WatchedBody {
            inner,
            _in_flight: in_flight,
        })))
    }
}

pin_project! {
    /// A response body that keeps its request counted in flight until it is dropped.
    #[derive(Debug)]
    pub(in crate::server) struct WatchedBody {
        #[pin]
        inner: Body,
        // Counts the request out when hyper drops the body.
        _in_flight: Option<InFlight>,
    }
}

impl http_body::Body for WatchedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::Ordering;

    use http_body_util::BodyExt as _;
    use http_body_util::Empty;
    use hyper::service::Service as _;

    use super::*;

    /// Answers every request with a small body.
    struct Answer;

    impl hyper::service::Service<Request<Empty<Bytes>>> for Answer {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<Body>, Infallible>>;

        fn call(&self, _request: Request<Empty<Bytes>>) -> Self::Future {
            std::future::ready(Ok(Response::new(Body::from("streamed"))))
        }
    }

    fn watched() -> (Watched<Answer>, Arc<Activity>) {
        let activity = Arc::<Activity>::default();
        (Watched::new(Answer, Arc::clone(&activity)), activity)
    }

    #[tokio::test]
    async fn a_request_is_in_flight_until_its_body_is_dropped() {
        let (service, activity) = watched();
        let future = service.call(Request::new(Empty::new()));
        assert_eq!(activity.counts().in_flight(), 1);
        let Ok(response) = future.await;
        assert_eq!(
            activity.counts().in_flight(),
            1,
            "the body is still to be sent"
        );
        let body = response
            .into_body()
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes);
        assert_eq!(body.ok(), Some(Bytes::from_static(b"streamed")));
        assert_eq!(activity.counts().in_flight(), 0);
    }

    #[test]
    fn an_http2_request_marks_the_connection() {
        let (service, activity) = watched();
        drop(service.call(Request::new(Empty::new())));
        assert!(!activity.http2.load(Ordering::Relaxed));
        let mut request = Request::new(Empty::new());
        *request.version_mut() = Version::HTTP_2;
        drop(service.call(request));
        assert!(activity.http2.load(Ordering::Relaxed));
    }

    #[test]
    fn a_dropped_request_is_counted_out() {
        let (service, activity) = watched();
        drop(service.call(Request::new(Empty::new())));
        let counts = activity.counts();
        assert_eq!((counts.started, counts.in_flight()), (1, 0));
    }
}
