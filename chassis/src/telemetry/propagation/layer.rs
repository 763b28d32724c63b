//! The outbound layer: writes the current trace context into client requests.

use std::task::{Context, Poll};

use http::Request;
use tower::{Layer, Service};

use super::TraceContext;

/// Adds `traceparent`, `tracestate`, `baggage` and `x-request-id` to every request sent
/// through a tower HTTP client service.
///
/// The context comes from the request's extensions when the caller put a [`TraceContext`]
/// there (explicit wins), otherwise from the task-local current context that the server layer
/// sets while a handler runs. Outside any request (a background job) nothing is written, as
/// OpenTelemetry's propagators do; wrap such work in [`TraceContext::scope`] to start a trace.
#[derive(Clone, Copy, Debug, Default)]
pub struct PropagateLayer;

impl PropagateLayer {
    /// The layer.
    pub fn new() -> Self {
        Self
    }
}

impl<S> Layer<S> for PropagateLayer {
    type Service = Propagate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Propagate { inner }
    }
}

/// The service made by [`PropagateLayer`].
#[derive(Clone, Debug)]
pub struct Propagate<S> {
    inner: S,
}

impl<S> Propagate<S> {
    /// Wraps a client service.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S, B> Service<Request<B>> for Propagate<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        if let Some(ctx) = parts.extensions.get::<TraceContext>() {
            ctx.inject(&mut parts.headers);
        } else {
            TraceContext::with_current(|ctx| ctx.inject(&mut parts.headers));
        }
        self.inner.call(Request::from_parts(parts, body))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::HeaderMap;
    use tower::ServiceExt;

    use super::*;
    use crate::telemetry::propagation::TraceParent;

    fn echo_headers() -> impl Service<Request<()>, Response = HeaderMap, Error = Infallible> + Clone
    {
        tower::service_fn(
            |req: Request<()>| async move { Ok::<_, Infallible>(req.headers().clone()) },
        )
    }

    #[tokio::test]
    async fn writes_the_task_local_context() {
        let ctx = TraceContext::new_root();
        let expected = ctx.clone();
        let headers = ctx
            .scope(
                PropagateLayer::new()
                    .layer(echo_headers())
                    .oneshot(Request::new(())),
            )
            .await
            .expect("infallible");
        let tp = TraceParent::parse(&headers["traceparent"]).expect("written");
        assert_eq!(tp.trace_id, expected.trace_id());
        assert_eq!(tp.parent_id, expected.span_id());
    }

    #[tokio::test]
    async fn extension_wins_and_nothing_without_context() {
        let headers = PropagateLayer::new()
            .layer(echo_headers())
            .oneshot(Request::new(()))
            .await
            .expect("infallible");
        assert!(headers.get("traceparent").is_none());

        let explicit = TraceContext::new_root();
        let mut req = Request::new(());
        req.extensions_mut().insert(explicit.clone());
        let headers = TraceContext::new_root()
            .scope(PropagateLayer::new().layer(echo_headers()).oneshot(req))
            .await
            .expect("infallible");
        let tp = TraceParent::parse(&headers["traceparent"]).expect("written");
        assert_eq!(tp.trace_id, explicit.trace_id());
    }
}
