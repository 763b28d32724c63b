//! The span of one inbound request: a SERVER span made through the OpenTelemetry SDK when
//! traces are exported, with the request's own ids.
//!
//! It is not a `tracing` span: no subscriber formats its fields and no layer converts it, so
//! a sampled request pays for the exported span alone, and an unsampled one for the
//! sampler's decision. Log lines take the request's ids from the task-local context, and
//! `tracing` spans a handler makes become its children (see [`otlp`](super::otlp)). The
//! span follows the OpenTelemetry HTTP server conventions: name `{method} {http.route}`,
//! attributes `http.request.method` (and `http.request.method_original` for `_OTHER`),
//! `http.route`, `url.path`, `url.scheme`, `server.address` and `server.port` (from the
//! authority the client addressed), `network.protocol.version`, `request_id`, then
//! `http.response.status_code`, and `error.type` with an error status for a 5xx.

use super::link::Export;
use super::propagation::{CallerLink, TraceContext};

/// What the span says about the request, read only when the span records.
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) struct Described<'a> {
    /// `GET /items/{id}`.
    pub(crate) name: &'a str,
    /// The method's label (`GET`, `_OTHER`).
    pub(crate) method: &'static str,
    /// The method as sent, when the label is `_OTHER`.
    pub(crate) method_original: Option<&'a str>,
    /// The matched template, `None` when unmatched.
    pub(crate) route: Option<&'a str>,
    /// The request's path (no query).
    pub(crate) path: &'a str,
    /// The HTTP version.
    pub(crate) version: http::Version,
    /// The authority the client addressed (`:authority`, else `Host`).
    pub(crate) host: Option<&'a str>,
}

/// A request's SERVER span; ended by [`ServerSpan::end`], or when dropped (its client went
/// away) without a status.
#[derive(Default)]
pub(crate) struct ServerSpan {
    /// Boxed: the SDK's span is large, and the response future that holds this is moved
    /// on every request, exported or not.
    #[cfg(feature = "otlp")]
    span: Option<Box<opentelemetry_sdk::trace::Span>>,
}

impl std::fmt::Debug for ServerSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSpan").finish_non_exhaustive()
    }
}

impl ServerSpan {
    /// Starts the span of the request in `ctx` when traces are exported; `ctx` takes the
    /// sampler's decision, so callees follow it. Without export this is one atomic load.
    #[cfg_attr(not(feature = "otlp"), allow(unused_variables))]
    pub(crate) fn start<'a>(
        ctx: &mut TraceContext,
        export: Export,
        caller: Option<&CallerLink>,
        describe: impl FnOnce() -> Described<'a>,
    ) -> Self {
        #[cfg(feature = "otlp")]
        if super::otlp::is_active()
            && let Some((sampled, span)) = super::otlp::server_span(ctx, export.slot, caller)
        {
            ctx.set_sampled(sampled);
            ctx.set_export_slot(export.slot);
            return Self {
                span: span.map(|span| Box::new(export::describe(span, &describe(), ctx))),
            };
        }
        Self::default()
    }

    /// Describes the span as the gRPC call of `path` (`/package.Service/Method`), by the
    /// OpenTelemetry RPC conventions: named `package.Service/Method`, with `rpc.system`,
    /// `rpc.service` and `rpc.method`.
    #[cfg(feature = "grpc")]
    #[cfg_attr(not(feature = "otlp"), allow(unused_variables, clippy::unused_self))]
    pub(crate) fn describe_rpc(&mut self, path: &str) {
        #[cfg(feature = "otlp")]
        if let Some(span) = self.span.as_deref_mut() {
            export::describe_rpc(span, path);
        }
    }

    /// The gRPC call ended with status `code`: records it and ends the span (an error status
    /// for a server failure).
    #[cfg(feature = "grpc")]
    #[cfg_attr(not(feature = "otlp"), allow(unused_variables, clippy::unused_self))]
    pub(crate) fn end_rpc(&mut self, code: i32) {
        #[cfg(feature = "otlp")]
        if let Some(span) = self.span.take() {
            export::end_rpc(*span, code);
        }
    }

    /// The response's status is known: records it and ends the span.
    #[cfg_attr(not(feature = "otlp"), allow(unused_variables, clippy::unused_self))]
    pub(crate) fn end(&mut self, status: u16) {
        #[cfg(feature = "otlp")]
        if let Some(span) = self.span.take() {
            export::end(*span, status);
        }
    }
}

#[cfg(feature = "otlp")]
mod export {
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{Span as _, Status};
    use opentelemetry_sdk::trace::Span;

    use super::Described;
    use crate::telemetry::propagation::TraceContext;

    pub(super) fn describe(mut span: Span, what: &Described<'_>, ctx: &TraceContext) -> Span {
        span.update_name(what.name.to_owned());
        span.set_attribute(KeyValue::new("http.request.method", what.method));
        if let Some(original) = what.method_original {
            span.set_attribute(KeyValue::new(
                "http.request.method_original",
                original.to_owned(),
            ));
        }
        if let Some(route) = what.route {
            span.set_attribute(KeyValue::new("http.route", route.to_owned()));
        }
        span.set_attribute(KeyValue::new("url.path", what.path.to_owned()));
        span.set_attribute(KeyValue::new("url.scheme", "http"));
        if let Some((address, port)) = what.host.map(split_host) {
            span.set_attribute(KeyValue::new("server.address", address.to_owned()));
            if let Some(port) = port {
                span.set_attribute(KeyValue::new("server.port", i64::from(port)));
            }
        }
        if let Some(version) = protocol_version(what.version) {
            span.set_attribute(KeyValue::new("network.protocol.version", version));
        }
        if let Some(id) = ctx.request_id().and_then(|id| id.to_str().ok()) {
            span.set_attribute(KeyValue::new("request_id", id.to_owned()));
        }
        span
    }

    /// `host[:port]` (`[::1]:8080` for IPv6) as address (without brackets) and port.
    pub(super) fn split_host(host: &str) -> (&str, Option<u16>) {
        let (address, port) = match host.rsplit_once(':') {
            Some((address, port)) if !port.contains(']') => match port.parse() {
                Ok(port) => (address, Some(port)),
                Err(_) => (host, None),
            },
            _ => (host, None),
        };
        let address = address
            .strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'))
            .unwrap_or(address);
        (address, port)
    }

    fn protocol_version(version: http::Version) -> Option<&'static str> {
        match version {
            http::Version::HTTP_10 => Some("1.0"),
            http::Version::HTTP_11 => Some("1.1"),
            http::Version::HTTP_2 => Some("2"),
            http::Version::HTTP_3 => Some("3"),
            _ => None,
        }
    }

    #[cfg(feature = "grpc")]
    pub(super) fn describe_rpc(span: &mut Span, path: &str) {
        let name = path.trim_start_matches('/');
        let (service, method) = name.split_once('/').unwrap_or((name, ""));
        span.update_name(name.to_owned());
        span.set_attribute(KeyValue::new("rpc.system", "grpc"));
        span.set_attribute(KeyValue::new("rpc.service", service.to_owned()));
        span.set_attribute(KeyValue::new("rpc.method", method.to_owned()));
    }

    /// `UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`,
    /// `DATA_LOSS`: the codes a SERVER span marks as errors.
    #[cfg(feature = "grpc")]
    pub(super) fn end_rpc(mut span: Span, code: i32) {
        span.set_attribute(KeyValue::new("rpc.grpc.status_code", i64::from(code)));
        if matches!(code, 2 | 4 | 12 | 13 | 14 | 15) {
            span.set_status(Status::error(""));
        }
        span.end();
    }

    pub(super) fn end(mut span: Span, status: u16) {
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        if status >= 500 {
            span.set_attribute(KeyValue::new("error.type", status.to_string()));
            span.set_status(Status::error(""));
        }
        span.end();
    }
}

#[cfg(all(test, feature = "otlp"))]
mod tests {
    use super::export::split_host;

    #[test]
    fn host_and_port_are_split_ipv6_included() {
        assert_eq!(
            split_host("shop.example:8080"),
            ("shop.example", Some(8080))
        );
        assert_eq!(split_host("shop.example"), ("shop.example", None));
        assert_eq!(split_host("[::1]:8080"), ("::1", Some(8080)));
        assert_eq!(split_host("[::1]"), ("::1", None));
        assert_eq!(split_host("host:notaport"), ("host:notaport", None));
    }
}
