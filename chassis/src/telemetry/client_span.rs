//! The span of one outbound attempt: a fresh span id written as the `traceparent` parent-id,
//! and, when traces are exported, a CLIENT span with that id.
//!
//! W3C Trace Context defines the parent-id as "the ID of this request as known by the
//! caller": each attempt (a retry included) is its own request, with its own id, so a trace
//! shows three calls and a retry as four spans, not one. The span follows the OpenTelemetry
//! HTTP client conventions: name `{method} {url.template}`, attributes
//! `http.request.method`, `server.address`, `server.port`, `url.template`, `url.full`
//! (without the query), `http.request.resend_count` on a retry, then
//! `http.response.status_code`, or `error.type` for a failure. With export off, an attempt
//! costs a random id and the header it is written into.

use http::request::Parts;

use super::propagation::{SpanId, TraceContext};

/// An outbound attempt's span, ended by [`AttemptSpan::answered`] or [`AttemptSpan::failed`]
/// (or as `cancelled` when dropped first).
#[derive(Default)]
pub(crate) struct AttemptSpan {
    #[cfg(feature = "otlp")]
    span: Option<opentelemetry_sdk::trace::Span>,
}

impl std::fmt::Debug for AttemptSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttemptSpan").finish_non_exhaustive()
    }
}

/// What the span names the call by.
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) struct Call<'a> {
    /// The route template, when the request carries one.
    pub(crate) template: Option<&'static str>,
    /// Times the request was sent before this attempt.
    pub(crate) resends: u32,
    /// The endpoint, `host:port`.
    pub(crate) authority: &'a str,
    /// A gRPC call's path, `/package.Service/Method`: the span follows the OpenTelemetry
    /// RPC conventions instead (name `package.Service/Method`, `rpc.system`, `rpc.service`,
    /// `rpc.method`, then `rpc.grpc.status_code`).
    pub(crate) rpc: Option<&'a str>,
}

impl AttemptSpan {
    /// Writes the propagation headers of a new attempt into `parts` (from the context in
    /// its extensions, else the current one; nothing outside a request) and starts its span.
    pub(crate) fn start(parts: &mut Parts, call: &Call<'_>) -> Self {
        let span_id = SpanId::random();
        let inject = |ctx: &TraceContext, headers: &mut http::HeaderMap| {
            ctx.inject_as(headers, span_id);
            #[cfg(feature = "otlp")]
            let slot = ctx.export_slot();
            #[cfg(not(feature = "otlp"))]
            let slot = None::<u32>;
            (ctx.trace_id(), ctx.span_id(), ctx.flags(), slot)
        };
        let sampled = match parts.extensions.get::<TraceContext>() {
            Some(ctx) => Some(inject(ctx, &mut parts.headers)),
            None => TraceContext::with_current(|ctx| inject(ctx, &mut parts.headers)),
        };
        #[cfg(feature = "otlp")]
        if let Some((trace_id, parent, flags, slot)) = sampled
            && flags.is_sampled()
            && super::otlp::is_active()
        {
            return Self {
                span: export::start(parts, call, (trace_id, parent, flags), span_id, slot),
            };
        }
        #[cfg(not(feature = "otlp"))]
        let _ = (sampled, call);
        Self::default()
    }

    /// The dependency answered `status`.
    #[cfg_attr(not(feature = "otlp"), allow(unused_variables, clippy::unused_self))]
    pub(crate) fn answered(&mut self, status: u16) {
        #[cfg(feature = "otlp")]
        if let Some(span) = self.span.take() {
            export::end(
                span,
                Some(status),
                (status >= 500).then(|| status.to_string()),
            );
        }
    }

    /// The gRPC call ended with status `code`; a code that is the server's failure
    /// (`UNKNOWN`, `DEADLINE_EXCEEDED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS`) marks the span
    /// an error, as the RPC conventions say.
    #[cfg(feature = "grpc")]
    #[cfg_attr(not(feature = "otlp"), allow(unused_variables, clippy::unused_self))]
    pub(crate) fn answered_rpc(&mut self, code: i32) {
        #[cfg(feature = "otlp")]
        if let Some(span) = self.span.take() {
            export::end_rpc(span, code);
        }
    }

    /// The attempt failed with no answer: `error_type` says how (`timeout`, `transport`...).
    #[cfg_attr(not(feature = "otlp"), allow(unused_variables, clippy::unused_self))]
    pub(crate) fn failed(&mut self, error_type: &str) {
        #[cfg(feature = "otlp")]
        if let Some(span) = self.span.take() {
            export::end(span, None, Some(error_type.to_owned()));
        }
    }
}

impl Drop for AttemptSpan {
    fn drop(&mut self) {
        self.failed("cancelled");
    }
}

#[cfg(feature = "otlp")]
mod export {
    use http::request::Parts;
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{Span as _, Status};
    use opentelemetry_sdk::trace::Span;

    use super::Call;
    use crate::telemetry::propagation::{SpanId, TraceFlags, TraceId};

    pub(super) fn start(
        parts: &Parts,
        call: &Call<'_>,
        (trace_id, parent, flags): (TraceId, SpanId, TraceFlags),
        span_id: SpanId,
        slot: Option<u32>,
    ) -> Option<Span> {
        if let Some(path) = call.rpc {
            return start_rpc(call, path, (trace_id, parent, flags), span_id, slot);
        }
        let method = parts.method.as_str().to_owned();
        let name = match call.template {
            Some(template) => format!("{method} {template}"),
            None => method.clone(),
        };
        let (host, port) = match call.authority.rsplit_once(':') {
            Some((host, port)) => (host, port.parse::<i64>().unwrap_or(80)),
            None => (call.authority, 80),
        };
        let scheme = parts.uri.scheme_str().unwrap_or("http");
        let mut attributes = vec![
            KeyValue::new("http.request.method", method),
            KeyValue::new("server.address", host.to_owned()),
            KeyValue::new("server.port", port),
            KeyValue::new(
                "url.full",
                format!("{scheme}://{}{}", call.authority, parts.uri.path()),
            ),
        ];
        if let Some(template) = call.template {
            attributes.push(KeyValue::new("url.template", template));
        }
        if call.resends > 0 {
            attributes.push(KeyValue::new(
                "http.request.resend_count",
                i64::from(call.resends),
            ));
        }
        crate::telemetry::otlp::client_span(
            (trace_id.get(), span_id.get()),
            (parent.get(), flags.bits()),
            slot,
            name,
            attributes,
        )
    }

    /// A CLIENT span by the OpenTelemetry RPC conventions.
    fn start_rpc(
        call: &Call<'_>,
        path: &str,
        (trace_id, parent, flags): (TraceId, SpanId, TraceFlags),
        span_id: SpanId,
        slot: Option<u32>,
    ) -> Option<Span> {
        let name = path.trim_start_matches('/');
        let (service, method) = name.split_once('/').unwrap_or((name, ""));
        let (host, port) = match call.authority.rsplit_once(':') {
            Some((host, port)) => (host, port.parse::<i64>().unwrap_or(80)),
            None => (call.authority, 80),
        };
        let attributes = vec![
            KeyValue::new("rpc.system", "grpc"),
            KeyValue::new("rpc.service", service.to_owned()),
            KeyValue::new("rpc.method", method.to_owned()),
            KeyValue::new("server.address", host.to_owned()),
            KeyValue::new("server.port", port),
        ];
        crate::telemetry::otlp::client_span(
            (trace_id.get(), span_id.get()),
            (parent.get(), flags.bits()),
            slot,
            name.to_owned(),
            attributes,
        )
    }

    /// Ends a CLIENT RPC span with its gRPC status code.
    #[cfg(feature = "grpc")]
    pub(super) fn end_rpc(mut span: Span, code: i32) {
        span.set_attribute(KeyValue::new("rpc.grpc.status_code", i64::from(code)));
        if matches!(code, 2 | 4 | 13 | 14 | 15) {
            span.set_status(Status::error(""));
        }
        span.end();
    }

    pub(super) fn end(mut span: Span, status: Option<u16>, error_type: Option<String>) {
        if let Some(status) = status {
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
        }
        if let Some(error_type) = error_type {
            span.set_attribute(KeyValue::new("error.type", error_type));
            span.set_status(Status::error(""));
        }
        span.end();
    }
}
