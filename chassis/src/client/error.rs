//! [`ClientError`]: why an outbound call failed, classified once.

use std::fmt;

use tower::BoxError;

pub use crate::discovery::NoEndpoint;
use crate::resilience::blame::{Cause, Failure, InvalidRequest, Verdict};

/// The kind of a [`ClientError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientErrorKind {
    /// The client's or an endpoint's circuit breaker is open: the call was not made.
    BreakerOpen,
    /// The call (or an attempt, after retries) took too long.
    Timeout,
    /// The caller's deadline was already spent: the call was not made.
    DeadlineExceeded,
    /// The bulkhead is full.
    Rejected,
    /// No endpoint is known for the service.
    NoEndpoint,
    /// Connecting or talking to the endpoint failed.
    Transport,
    /// The request could not be built.
    InvalidRequest,
}

impl ClientErrorKind {
    /// The kind as a metric label value (`error_type`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BreakerOpen => "breaker_open",
            Self::Timeout => "timeout",
            Self::DeadlineExceeded => "deadline_exceeded",
            Self::Rejected => "rejected",
            Self::NoEndpoint => "no_endpoint",
            Self::Transport => "transport",
            Self::InvalidRequest => "invalid_request",
        }
    }
}

/// An outbound call failed; [`ClientError::kind`] says why.
#[derive(Debug)]
pub struct ClientError {
    kind: ClientErrorKind,
    service: String,
    source: BoxError,
}

impl ClientError {
    pub(crate) fn new(service: &str, source: BoxError) -> Self {
        Self {
            kind: classify(source.as_ref()),
            service: service.to_owned(),
            source,
        }
    }

    pub(crate) fn invalid(service: &str, source: impl Into<BoxError>) -> Self {
        Self {
            kind: ClientErrorKind::InvalidRequest,
            service: service.to_owned(),
            source: Box::new(InvalidRequest::new(source)),
        }
    }

    /// Why the call failed.
    pub fn kind(&self) -> ClientErrorKind {
        self.kind
    }

    /// Who the failure is charged to: [`Verdict::Failure`] when the dependency failed (it
    /// counted against the breakers), [`Verdict::NotCharged`] when it did not.
    pub fn verdict(&self) -> Verdict {
        Verdict::of_error(self.source.as_ref())
    }

    /// Whether a circuit breaker refused the call (answer with a fallback).
    pub fn is_breaker_open(&self) -> bool {
        self.kind == ClientErrorKind::BreakerOpen
    }

    /// Whether the call or the caller's deadline ran out of time.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.kind,
            ClientErrorKind::Timeout | ClientErrorKind::DeadlineExceeded
        )
    }

    /// The service that was called.
    pub fn service(&self) -> &str {
        &self.service
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call to {} failed: {}", self.service, self.source)
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// The client's kind of an error, from the one verdict every policy reads.
fn classify(error: &(dyn std::error::Error + 'static)) -> ClientErrorKind {
    match Verdict::of_error(error) {
        Verdict::Failure(Failure::Timeout) => ClientErrorKind::Timeout,
        Verdict::NotCharged(Cause::Deadline) => ClientErrorKind::DeadlineExceeded,
        Verdict::NotCharged(Cause::Bulkhead) => ClientErrorKind::Rejected,
        Verdict::NotCharged(Cause::NoEndpoint) => ClientErrorKind::NoEndpoint,
        Verdict::NotCharged(Cause::InvalidRequest) => ClientErrorKind::InvalidRequest,
        Verdict::NotCharged(Cause::BreakerOpen) => ClientErrorKind::BreakerOpen,
        _ => ClientErrorKind::Transport,
    }
}

/// A failed call answered as it is by a handler: a problem response without internal text
/// (see [`client_error_response`](crate::server::client_error_response)).
impl axum::response::IntoResponse for ClientError {
    fn into_response(self) -> axum::response::Response {
        crate::server::client_error_response(&self)
    }
}
