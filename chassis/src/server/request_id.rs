//! [`RequestIdLayer`]: `x-request-id` kept when the caller sent a sane one, generated
//! otherwise, and echoed on the response.
//!
//! One pass instead of tower-http's `SetRequestId` + `PropagateRequestId` pair, which also
//! inserts a `RequestId` extension per request; the id is on the request's headers for
//! handlers and telemetry to read. Ids are 128 random bits from a fast thread-local generator
//! (`fastrand`, seeded from the OS once per thread) as 32 hex digits: an OS-random UUID v4
//! costs more than a whole bare request, and ids need to be unique, not unpredictable.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::telemetry::propagation::ids::{hex, random_u128};

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest caller-supplied id that is kept; longer ones are replaced.
const MAX_ID_LEN: usize = 128;

/// Keeps or generates `x-request-id` and echoes it on the response.
///
/// ```
/// use chassis::server::RequestIdLayer;
/// use tower::{Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let service = RequestIdLayer.layer(tower::service_fn(|_req: http::Request<()>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(()))
/// }));
/// let response = service.oneshot(http::Request::new(())).await.unwrap();
/// assert_eq!(response.headers()["x-request-id"].len(), 32);
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestId { inner }
    }
}

/// The service of [`RequestIdLayer`].
#[derive(Debug, Clone)]
pub struct RequestId<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for RequestId<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let id = ensure(request.headers_mut());
        RequestIdFuture {
            inner: self.inner.call(request),
            id: Some(id),
        }
    }
}

/// Keeps a sane `x-request-id`, replaces an insane one or adds a fresh one; returns it.
pub(crate) fn ensure(headers: &mut HeaderMap) -> HeaderValue {
    let sent = headers.get(REQUEST_ID).cloned();
    adopt(headers, sent)
}

/// [`ensure`] when the caller's id, `sent`, was already found: keeps it if sane, else
/// generates one and puts it in `headers` (replacing the insane one).
pub(crate) fn adopt(headers: &mut HeaderMap, sent: Option<HeaderValue>) -> HeaderValue {
    match sent {
        Some(id) if is_sane(&id) => id,
        _ => {
            let id = random_id();
            headers.insert(REQUEST_ID, id.clone());
            id
        }
    }
}

/// Puts the request's id on its response, unless the handler set one.
pub(crate) fn echo<B>(response: &mut Response<B>, id: HeaderValue) {
    response.headers_mut().entry(REQUEST_ID).or_insert(id);
}

pin_project! {
    /// The future of [`RequestId`].
    #[derive(Debug)]
    pub struct RequestIdFuture<F> {
        #[pin]
        inner: F,
        id: Option<HeaderValue>,
    }
}

impl<F, R, E> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(id) = this.id.take() {
            echo(&mut response, id);
        }
        Poll::Ready(Ok(response))
    }
}

fn is_sane(id: &HeaderValue) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.as_bytes().iter().all(u8::is_ascii_graphic)
}

/// 32 lower-case hex digits of a random, non-zero 128-bit value.
pub fn random_id() -> HeaderValue {
    let mut text = [0u8; 32];
    hex::encode_u128(random_u128(), &mut text);
    // One allocation holding the digits and the count of references: the clones for the
    // request, the response and the trace context share it (a copied slice would be
    // reallocated on its first clone).
    HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(text))
        .unwrap_or(HeaderValue::from_static("0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_and_distinct() {
        let a = random_id();
        let b = random_id();
        assert_ne!(a, b);
        assert!(a.as_bytes().iter().all(u8::is_ascii_hexdigit));
        assert_eq!(a.len(), 32);
    }

    /// The id the handler saw and the one echoed on the response.
    async fn ids_for(sent: Option<&'static str>) -> (String, String) {
        use tower::ServiceExt as _;
        let service = RequestIdLayer.layer(tower::service_fn(|request: Request<()>| async move {
            let seen = request.headers()[&REQUEST_ID]
                .to_str()
                .unwrap_or_default()
                .to_owned();
            Ok::<_, std::convert::Infallible>(Response::new(seen))
        }));
        let mut request = Request::new(());
        if let Some(id) = sent {
            request
                .headers_mut()
                .insert(REQUEST_ID, HeaderValue::from_static(id));
        }
        let Ok(response) = service.oneshot(request).await;
        let echoed = response.headers()[&REQUEST_ID]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        (response.into_body(), echoed)
    }

    #[tokio::test]
    async fn kept_replaced_or_added_and_always_echoed() {
        let (seen, echoed) = ids_for(Some("caller-42")).await;
        assert_eq!((seen.as_str(), echoed.as_str()), ("caller-42", "caller-42"));
        for sent in [Some("has space"), None] {
            let (seen, echoed) = ids_for(sent).await;
            assert_eq!(seen, echoed);
            assert_eq!(seen.len(), 32, "{sent:?} -> {seen}");
        }
    }

    #[test]
    fn only_sane_ids_are_kept() {
        assert!(is_sane(&HeaderValue::from_static("abc-123")));
        assert!(!is_sane(&HeaderValue::from_static("")));
        assert!(!is_sane(&HeaderValue::from_static("has space")));
        let long = "x".repeat(MAX_ID_LEN + 1);
        assert!(!is_sane(&HeaderValue::from_str(&long).unwrap()));
    }
}
