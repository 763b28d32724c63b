//! The SERVER span of a gRPC call, by the OpenTelemetry RPC conventions.
//!
//! The server's telemetry layer starts a SERVER span for every request (when traces are
//! exported) and ends it at the response head. For a gRPC call the service's measuring layer
//! puts a [`SpanHandoff`] into the response's extensions; the telemetry layer hands its span
//! over, renamed `package.Service/Method` with `rpc.system = "grpc"`, `rpc.service` and
//! `rpc.method`, and the span ends when the response stream does, with
//! `rpc.grpc.status_code` (an error status for `UNKNOWN`, `DEADLINE_EXCEEDED`,
//! `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS`). So a stream's span covers all
//! of it. Nothing of this exists unless traces are exported.

use std::sync::{Arc, Mutex, PoisonError};

use crate::telemetry::server_span::ServerSpan;

/// Where a gRPC call's SERVER span waits for the end of its response stream.
#[derive(Debug, Clone)]
pub(crate) struct SpanHandoff {
    inner: Arc<Mutex<Handoff>>,
}

#[derive(Debug)]
struct Handoff {
    path: Box<str>,
    span: Option<ServerSpan>,
    /// The status, when the call ended before the span was handed over.
    code: Option<i32>,
}

impl SpanHandoff {
    /// A handoff for the call of `path`, when traces are exported.
    pub(crate) fn new(path: &str) -> Option<Self> {
        crate::telemetry::link::exporting().then(|| Self {
            inner: Arc::new(Mutex::new(Handoff {
                path: path.into(),
                span: None,
                code: None,
            })),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Handoff> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The telemetry layer's span, taken over at the response head: described as the call,
    /// ended at once when the status is known already.
    pub(crate) fn take_over(&self, span: &mut ServerSpan) {
        let mut span = std::mem::take(span);
        let mut handoff = self.lock();
        span.describe_rpc(&handoff.path);
        match handoff.code {
            Some(code) => span.end_rpc(code),
            None => handoff.span = Some(span),
        }
    }

    /// The call ended with `code`.
    pub(crate) fn finish(&self, code: i32) {
        let mut handoff = self.lock();
        match handoff.span.take() {
            Some(mut span) => span.end_rpc(code),
            None => handoff.code = Some(code),
        }
    }
}
