//! The SERVER span of a gRPC call, by the OpenTelemetry RPC conventions.
//!
//! The server's telemetry layer opens an `http.server` span for every request (when traces
//! are exported). For a gRPC call that span is renamed `package.Service/Method` and given
//! `rpc.system = "grpc"`, `rpc.service`, `rpc.method`, and at the end of the response stream
//! `rpc.grpc.status_code`; a server failure (`UNKNOWN`, `DEADLINE_EXCEEDED`,
//! `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS`) marks it an error. The span lives
//! until the stream ends, so a stream's span covers all of it.

use tonic::Code;

/// The SERVER span of one call (nothing when traces are not exported).
#[derive(Debug, Default)]
pub(crate) struct ServerSpan {
    #[cfg(feature = "otlp")]
    span: Option<tracing::Span>,
}

impl ServerSpan {
    /// The current request's span, named and described as the call of `path`.
    #[cfg_attr(not(feature = "otlp"), allow(unused_variables))]
    pub(crate) fn start(path: &str) -> Self {
        #[cfg(feature = "otlp")]
        {
            use opentelemetry::trace::TraceContextExt as _;
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            let span = tracing::Span::current();
            if span.is_none() || span.is_disabled() {
                return Self::default();
            }
            let name = path.trim_start_matches('/');
            let (service, method) = super::metrics::split_path(path);
            // The span is started by now (its parent set), so it is renamed on the OpenTelemetry
            // side: a recorded `otel.name` would no longer count.
            span.context().span().update_name(name.to_owned());
            span.set_attribute("rpc.system", "grpc");
            span.set_attribute("rpc.service", service.to_owned());
            span.set_attribute("rpc.method", method.to_owned());
            Self { span: Some(span) }
        }
        #[cfg(not(feature = "otlp"))]
        Self::default()
    }

    /// The call ended with `code`.
    #[cfg_attr(not(feature = "otlp"), allow(unused_variables, clippy::unused_self))]
    pub(crate) fn end(self, code: Code) {
        #[cfg(feature = "otlp")]
        if let Some(span) = self.span {
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            span.set_attribute("rpc.grpc.status_code", i64::from(code as i32));
            if matches!(
                code,
                Code::Unknown
                    | Code::DeadlineExceeded
                    | Code::Unimplemented
                    | Code::Internal
                    | Code::Unavailable
                    | Code::DataLoss
            ) {
                span.set_status(opentelemetry::trace::Status::error(""));
            }
        }
    }
}
