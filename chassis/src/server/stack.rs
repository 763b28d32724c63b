//! The standard stack: the middleware every service gets, in one function.

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use bytes::Bytes;
use http::{Request, Response};
use tower::{BoxError, Service, ServiceBuilder};

use super::{
    BodyLimitLayer, CatchPanicLayer, HandleErrorLayer, LoadShedLayer, RequestIdLayer,
    RequestTimeoutLayer,
};
use crate::config::ServerConfig;
use crate::resilience::deadline::DeadlineLayer;

/// The body limit axum's extractors apply unless told otherwise.
const AXUM_DEFAULT_BODY_LIMIT: usize = 2 << 20;

/// Wraps `router` in the standard stack, outermost first:
///
/// 1. request id: `x-request-id` kept or generated, echoed on the response;
/// 2. panic -> `500`, the process lives on;
/// 3. errors -> problem responses (the single place statuses are chosen);
/// 4. load shedding over a concurrency limit -> `503` with `Retry-After`;
/// 5. request timeout -> `504` (the handler is polled first; a timer is created only when it
///    is not ready at once);
/// 6. the caller's deadline (`x-request-timeout-ms`, capped by the request timeout) stored
///    in the request extensions and as [`Deadline::current`](crate::resilience::deadline::Deadline::current) for the handler, so outbound
///    calls carry what is left of it;
/// 7. body size limit -> `413`, and body read timeout (a stalled body fails the request).
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
    let max_body = config.max_body_size.as_usize();
    // Our BodyLimitLayer bounds every body; axum's extractors add their own 2 MiB default,
    // which only needs lifting when the configured limit is larger.
    let router = if max_body > AXUM_DEFAULT_BODY_LIMIT {
        router.layer(DefaultBodyLimit::max(max_body))
    } else {
        router
    };
    ServiceBuilder::new()
        .layer(RequestIdLayer)
        .layer(CatchPanicLayer)
        .layer(HandleErrorLayer)
        .layer(LoadShedLayer::new(config.max_concurrent_requests))
        .layer(RequestTimeoutLayer::new(config.request_timeout))
        .layer(DeadlineLayer::new().max(config.request_timeout))
        .layer(BodyLimitLayer::new(max_body).read_timeout(config.body_read_timeout))
        .service(router)
}
