//! The gRPC status of a failed outbound call.

use std::sync::Arc;

use tonic::{Code, Status};

use crate::client::{ClientError, ClientErrorKind};

/// The status a failed call gives the generated client: `DEADLINE_EXCEEDED` when it ran out
/// of time (the client's timeout or the caller's deadline), `UNAVAILABLE` when a breaker or
/// bulkhead refused it, no endpoint was known or the transport failed, `INTERNAL` for a call
/// that could not be sent. The message is generic; the [`ClientError`] is the status'
/// source (for logs: `kind()`, the endpoint, why).
pub(crate) fn status_of(error: ClientError) -> Status {
    let (code, message) = match error.kind() {
        ClientErrorKind::Timeout | ClientErrorKind::DeadlineExceeded => (
            Code::DeadlineExceeded,
            "a service this call needs did not answer in time",
        ),
        ClientErrorKind::InvalidRequest => (Code::Internal, "the call could not be sent"),
        ClientErrorKind::BreakerOpen
        | ClientErrorKind::Rejected
        | ClientErrorKind::NoEndpoint
        | ClientErrorKind::Transport
        | ClientErrorKind::Tls => (
            Code::Unavailable,
            "a service this call needs is unavailable",
        ),
        _ => (Code::Unknown, "a service this call needs failed"),
    };
    tracing::debug!(%error, kind = error.kind().as_str(), "gRPC call failed");
    let mut status = Status::new(code, message);
    status.set_source(Arc::new(error));
    status
}
