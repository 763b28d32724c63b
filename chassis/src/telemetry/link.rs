//! The seam between the server layer's span and the subscriber.
//!
//! The server layer calls [`link_span`] once per request with the new `http.server` span and
//! its [`TraceContext`]. When the span is enabled, it stores the ids in the span's registry
//! extensions, where the JSON log format finds them for every line logged inside the request.
//!
//! This is also where OpenTelemetry export plugs in (the `otlp` feature, later): with a
//! `tracing-opentelemetry` layer added to the subscriber built in [`logs`](super::logs), this
//! function also sets the span's OpenTelemetry parent from the context
//! (`OpenTelemetrySpanExt::set_parent`) and its span id to `ctx.span_id()`, so exported spans,
//! log lines and the outbound `traceparent` agree on both ids. The server layer does not
//! change.

use tracing::Span;
use tracing_subscriber::Registry;
use tracing_subscriber::registry::LookupSpan;

use super::logs::json::TraceIds;
use super::propagation::TraceContext;

/// Attaches the context's ids to the request span (nothing when the span is disabled).
pub(crate) fn link_span(span: &Span, ctx: &TraceContext) {
    span.with_subscriber(|(id, dispatch)| {
        if let Some(data) = dispatch
            .downcast_ref::<Registry>()
            .and_then(|registry| registry.span(id))
        {
            data.extensions_mut().insert(TraceIds {
                trace_id: ctx.trace_id(),
                span_id: ctx.span_id(),
            });
        }
    });
}
