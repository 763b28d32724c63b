//! [`Watched`]: counts a connection's requests in and out for its [`Watchdog`](super::Watchdog),
//! and tells it which HTTP/2 answers wait for the peer's flow-control window.
//!
//! A request counts in when hyper hands it to the service and out when hyper drops its
//! response body: once the last chunk is queued for writing, or when the request is
//! abandoned. A response that streams (or pauses between events) keeps its request in flight.
//!
//! Over HTTP/2, hyper takes a chunk of the body and holds it until the stream's
//! flow-control window has room, and only then asks the body for more. A body that gave a
//! chunk and is not asked again is therefore held by the peer, while a body that was asked
//! and has nothing yet (an event stream between events) is the service's own pause: the
//! first waits on the peer and counts against `server.send_timeout`, the second is
//! activity as before.

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
        let http2 = request.version() == Version::HTTP_2;
        if http2 {
            self.activity.speaks_http2();
        }
        let in_flight = self.activity.start(!request.body().is_end_stream(), http2);
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
        Poll::Ready(Ok(response.map(|inner| WatchedBody { inner, in_flight })))
    }
}

pin_project! {
    /// A response body that keeps its request counted in flight until it is dropped, and
    /// notes whether hyper holds a chunk of it.
    #[derive(Debug)]
    pub(in crate::server) struct WatchedBody {
        #[pin]
        inner: Body,
        // Counts the request out when hyper drops the body.
        in_flight: Option<InFlight>,
    }
}

impl http_body::Body for WatchedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.project();
        if let Some(in_flight) = this.in_flight.as_mut() {
            in_flight.asked_again();
        }
        let frame = ready!(this.inner.poll_frame(cx));
        if let (Some(in_flight), Some(Ok(frame))) = (this.in_flight.as_mut(), &frame)
            && let Some(data) = frame.data_ref()
        {
            in_flight.gave(data.len());
        }
        Poll::Ready(frame)
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

    /// Answers every request with the body its function makes.
    struct Answer(fn() -> Body);

    impl hyper::service::Service<Request<Empty<Bytes>>> for Answer {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<Body>, Infallible>>;

        fn call(&self, _request: Request<Empty<Bytes>>) -> Self::Future {
            std::future::ready(Ok(Response::new((self.0)())))
        }
    }

    fn small() -> Body {
        Body::from("streamed")
    }

    /// A chunk, then nothing more for ever: an event stream between events.
    fn pausing() -> Body {
        let chunk = futures_util::stream::once(async { Ok::<_, Infallible>("event") });
        Body::from_stream(futures_util::StreamExt::chain(
            chunk,
            futures_util::stream::pending(),
        ))
    }

    fn watched(answer: fn() -> Body) -> (Watched<Answer>, Arc<Activity>) {
        let activity = Arc::<Activity>::default();
        (
            Watched::new(Answer(answer), Arc::clone(&activity)),
            activity,
        )
    }

    fn request(version: Version) -> Request<Empty<Bytes>> {
        let mut request = Request::new(Empty::new());
        *request.version_mut() = version;
        request
    }

    /// The response body to a request of `version`.
    async fn answer(service: &Watched<Answer>, version: Version) -> WatchedBody {
        let Ok(response) = service.call(request(version)).await;
        response.into_body()
    }

    #[tokio::test]
    async fn a_request_is_in_flight_until_its_body_is_dropped() {
        let (service, activity) = watched(small);
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

    #[tokio::test]
    async fn an_http2_chunk_is_held_until_hyper_asks_again() {
        let (service, activity) = watched(small);
        let mut body = answer(&service, Version::HTTP_2).await;
        assert!(!activity.is_waiting_on_peer(), "nothing given yet");
        assert!(body.frame().await.is_some());
        assert!(activity.is_waiting_on_peer());
        assert!(body.frame().await.is_none());
        assert!(!activity.is_waiting_on_peer());
    }

    #[tokio::test]
    async fn an_http1_chunk_is_never_held() {
        let (service, activity) = watched(small);
        let mut body = answer(&service, Version::HTTP_11).await;
        assert!(body.frame().await.is_some());
        assert!(
            !activity.is_waiting_on_peer(),
            "hyper writes it to the socket"
        );
    }

    #[tokio::test]
    async fn a_held_answer_dropped_is_held_no_more() {
        let (service, activity) = watched(small);
        let mut first = answer(&service, Version::HTTP_2).await;
        let mut second = answer(&service, Version::HTTP_2).await;
        assert!(first.frame().await.is_some());
        assert!(second.frame().await.is_some());
        drop(first);
        assert!(activity.is_waiting_on_peer(), "the second is still held");
        drop(second);
        assert!(!activity.is_waiting_on_peer());
        assert_eq!(activity.counts().in_flight(), 0);
    }

    #[tokio::test]
    async fn a_body_that_pauses_is_not_held() {
        let (service, activity) = watched(pausing);
        let mut body = answer(&service, Version::HTTP_2).await;
        assert!(body.frame().await.is_some());
        // hyper sent the event and asks for the next, which does not come yet.
        let next = tokio::time::timeout(std::time::Duration::from_millis(10), body.frame());
        assert!(next.await.is_err());
        assert!(!activity.is_waiting_on_peer());
        assert_eq!(activity.counts().in_flight(), 1);
    }

    #[test]
    fn an_http2_request_marks_the_connection() {
        let (service, activity) = watched(small);
        drop(service.call(request(Version::HTTP_11)));
        assert!(!activity.http2.load(Ordering::Relaxed));
        drop(service.call(request(Version::HTTP_2)));
        assert!(activity.http2.load(Ordering::Relaxed));
    }

    #[test]
    fn a_dropped_request_is_counted_out() {
        let (service, activity) = watched(small);
        drop(service.call(Request::new(Empty::new())));
        let counts = activity.counts();
        assert_eq!((counts.started, counts.in_flight()), (1, 0));
    }
}
