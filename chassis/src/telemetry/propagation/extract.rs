//! [`TraceContext`] as an axum extractor.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::TraceContext;

/// The request's context in a handler: `async fn handler(ctx: TraceContext)`.
///
/// It is the task-local context that
/// [`ServerTelemetryLayer`](crate::telemetry::http::ServerTelemetryLayer) sets, else one a
/// caller put in the request extensions, else one read from the request's headers (a router
/// without the layer). Never rejects.
impl<S: Sync> FromRequestParts<S> for TraceContext {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::current()
            .or_else(|| parts.extensions.get::<Self>().cloned())
            .unwrap_or_else(|| Self::from_headers(&parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use axum::extract::FromRequestParts;
    use http::Request;

    use super::*;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    async fn extract(req: Request<()>) -> TraceContext {
        let (mut parts, ()) = req.into_parts();
        let Ok(ctx) = TraceContext::from_request_parts(&mut parts, &()).await;
        ctx
    }

    #[tokio::test]
    async fn task_local_first_then_extension_then_headers() {
        let request = || {
            Request::builder()
                .header("traceparent", TRACEPARENT)
                .body(())
                .expect("valid")
        };
        let from_headers = extract(request()).await;
        assert_eq!(
            from_headers.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );

        let explicit = TraceContext::new_root();
        let mut req = request();
        req.extensions_mut().insert(explicit.clone());
        assert_eq!(extract(req).await.trace_id(), explicit.trace_id());

        let current = TraceContext::new_root();
        let mut req = request();
        req.extensions_mut().insert(explicit.clone());
        let found = current.clone().scope(extract(req)).await;
        assert_eq!(found.span_id(), current.span_id());
    }
}
