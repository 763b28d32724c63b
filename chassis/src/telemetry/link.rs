//! The seam between the server layer's span and the subscriber.
//!
//! The server layer calls [`link_span`] once per request with its `http.server` span (made
//! only while traces are exported) and its [`TraceContext`]. When the span is enabled, it
//! stores the ids in the span's registry extensions: the log formats read the ids from the
//! task-local context first, and from there for a line logged in the span outside it (a task
//! spawned with the span).
//!
//! With the `otlp` feature and a service exporting traces, it also makes the span an
//! OpenTelemetry span (see [`otlp`](super::otlp)): its parent is the caller's span from
//! `traceparent`, its trace and span ids are the context's, so exported spans, log lines and
//! the outbound `traceparent` agree on both ids; the context's `sampled` flag becomes the
//! sampler's decision, so callees follow it. The position of an untrusted caller (a
//! [`CallerLink`] the trust boundary left) becomes a span link. Without export this is one
//! atomic load.

use tracing::Span;
use tracing_subscriber::Registry;
use tracing_subscriber::registry::LookupSpan;

use super::logs::correlation::TraceIds;
use super::propagation::{CallerLink, TraceContext};

/// Where a server layer's spans are exported: the service's provider, or (default) the
/// first service of the process that exports.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Export {
    #[cfg(feature = "otlp")]
    pub(crate) slot: Option<u32>,
}

/// Whether spans are being exported (OTLP on for some service of this process): only then
/// does the server layer make a request span, with the OpenTelemetry HTTP attributes.
/// Without export there is none: log lines take the ids from the task-local context.
pub(crate) fn exporting() -> bool {
    #[cfg(feature = "otlp")]
    {
        super::otlp::is_active()
    }
    #[cfg(not(feature = "otlp"))]
    {
        false
    }
}

/// Attaches the context's ids to the request span (nothing when the span is disabled), and
/// returns the context with the sampling decision of the exported span, if any.
#[cfg_attr(not(feature = "otlp"), allow(unused_variables, unused_mut))]
pub(crate) fn link_span(
    span: &Span,
    mut ctx: TraceContext,
    export: Export,
    caller: Option<&CallerLink>,
) -> TraceContext {
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
    #[cfg(feature = "otlp")]
    if super::otlp::is_active()
        && let Some(sampled) = super::otlp::link(span, &ctx, export.slot, caller)
    {
        ctx.set_sampled(sampled);
    }
    ctx
}
