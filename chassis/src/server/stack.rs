//! The standard stack: the middleware every service gets, in one function.

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use bytes::Bytes;
use http::{Request, Response};
use tower::limit::ConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::timeout::TimeoutLayer;
use tower::{BoxError, Service, ServiceBuilder};
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::RequestBodyTimeoutLayer;

use super::{BodyLimitLayer, CatchPanicLayer, FastRequestId, HandleErrorLayer, REQUEST_ID};
use crate::config::ServerConfig;

/// Wraps `router` in the standard stack, outermost first:
///
/// 1. request id: `x-request-id` kept or generated, echoed on the response;
/// 2. panic -> `500`, the process lives on;
/// 3. errors -> problem responses (the single place statuses are chosen);
/// 4. load shedding over a concurrency limit -> `503` with `Retry-After`;
/// 5. request timeout -> `504` (tower's timeout: the handler is polled first and the timer
///    is armed only when it is not immediately ready);
/// 6. body read timeout (a stalled body fails the request) and body size limit -> `413`.
///
/// Header count, header size (`431`) and header read timeouts are enforced by hyper in
/// [`Serving`](super::Serving).
pub fn standard_stack<B>(
    config: &ServerConfig,
    router: Router,
) -> impl Service<Request<B>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    // Our BodyLimitLayer bounds every body; axum's own 2 MiB default would shadow a larger one.
    let router = router.layer(DefaultBodyLimit::disable());
    ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, FastRequestId))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(CatchPanicLayer)
        .layer(HandleErrorLayer)
        .layer(LoadShedLayer::new())
        .layer(ConcurrencyLimitLayer::new(config.max_concurrent_requests))
        .layer(TimeoutLayer::new(config.request_timeout))
        .layer(RequestBodyTimeoutLayer::new(config.body_read_timeout))
        .layer(BodyLimitLayer::new(config.max_body_size.as_usize()))
        .service(router)
}
