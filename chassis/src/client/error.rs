//! [`ClientError`]: why an outbound call failed, classified once.

use std::error::Error;
use std::fmt;

use tower::BoxError;

use super::transport::TransportError;
pub use crate::discovery::NoEndpoint;
use crate::resilience::blame::{Cause, Failure, InvalidRequest, Verdict};
use crate::resilience::retry::{Attempt, DefaultClassifier, RetryClassifier};

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
    /// The TLS handshake or session failed: the server's certificate did not verify (not
    /// trusted, expired, not for this name), it refused ours, or it spoke TLS wrongly. A
    /// transport failure charged to the dependency, never retried.
    Tls,
    /// The request could not be built.
    InvalidRequest,
    /// The dependency answered, with a status that is not a success (reading a reply's body
    /// as JSON or text checks it first; see [`Reply::error_for_status`](super::Reply::error_for_status)).
    Status,
    /// The reply's body could not be read: too large, cut, or not the expected JSON.
    Body,
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
            Self::Tls => "tls",
            Self::InvalidRequest => "invalid_request",
            Self::Status => "status",
            Self::Body => "body",
        }
    }
}

/// An outbound call failed; [`ClientError::kind`] says why.
#[derive(Debug)]
pub struct ClientError {
    kind: ClientErrorKind,
    service: String,
    source: BoxError,
    status: Option<http::StatusCode>,
}

/// The dependency answered a status that is not a success.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("answered {0}")]
pub struct UnexpectedStatus(pub http::StatusCode);

impl ClientError {
    pub(crate) fn new(service: &str, source: BoxError) -> Self {
        Self {
            kind: classify(source.as_ref()),
            service: service.to_owned(),
            source,
            status: None,
        }
    }

    /// The dependency answered `status`, which is not a success.
    pub(crate) fn status(service: &str, status: http::StatusCode) -> Self {
        Self {
            kind: ClientErrorKind::Status,
            service: service.to_owned(),
            source: Box::new(UnexpectedStatus(status)),
            status: Some(status),
        }
    }

    /// The reply's body could not be read or decoded.
    pub(crate) fn body(
        service: &str,
        status: http::StatusCode,
        source: impl Into<BoxError>,
    ) -> Self {
        Self {
            kind: ClientErrorKind::Body,
            service: service.to_owned(),
            source: source.into(),
            status: Some(status),
        }
    }

    pub(crate) fn invalid(service: &str, source: impl Into<BoxError>) -> Self {
        Self {
            kind: ClientErrorKind::InvalidRequest,
            service: service.to_owned(),
            source: Box::new(InvalidRequest::new(source)),
            status: None,
        }
    }

    /// Why the call failed.
    pub fn kind(&self) -> ClientErrorKind {
        self.kind
    }

    /// The status the dependency answered, when it answered.
    pub fn http_status(&self) -> Option<http::StatusCode> {
        self.status
    }

    /// Who the failure is charged to: [`Verdict::Failure`] when the dependency failed (it
    /// counted against the breakers), [`Verdict::NotCharged`] when it did not.
    pub fn verdict(&self) -> Verdict {
        match self.status {
            Some(status) => Verdict::of_status(status),
            None => Verdict::of_error(self.source.as_ref()),
        }
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
        match self.kind {
            ClientErrorKind::Status => write!(f, "{} {}", self.service, self.source),
            // The connector's own message ("client error (Connect)") hides why.
            ClientErrorKind::Tls => {
                write!(f, "call to {} failed: tls", self.service)?;
                if let Some(transport) = self.source.downcast_ref::<TransportError>() {
                    write!(f, " with {}", transport.endpoint())?;
                }
                match tls_failure(self.source.as_ref()) {
                    Some(tls) => write!(f, ": {tls}"),
                    None => write!(f, ": {}", self.source),
                }
            }
            _ => write!(f, "call to {} failed: {}", self.service, self.source),
        }
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
        _ if tls_failure(error).is_some() => ClientErrorKind::Tls,
        _ => ClientErrorKind::Transport,
    }
}

/// The rustls error in `error`'s chain, if TLS is why it failed. An `io::Error` wraps it
/// where a connector or a stream reports it, and `io::Error::source` skips what it wraps:
/// each is looked into.
pub(crate) fn tls_failure<'a>(error: &'a (dyn Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        current = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// The client's retry classifier: [`DefaultClassifier`], but a TLS failure is not retried. A
/// certificate that does not verify, or a handshake refused, gives the same answer on every
/// attempt; with several endpoints the one failing is ejected by its breaker instead.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ClientRetries;

impl RetryClassifier for ClientRetries {
    fn is_retryable(&self, attempt: Attempt<'_>) -> bool {
        match attempt {
            Attempt::Error(error) if tls_failure(error).is_some() => false,
            _ => DefaultClassifier.is_retryable(attempt),
        }
    }
}

/// A failed call answered as it is by a handler: a problem response without internal text
/// (see [`client_error_response`](crate::server::client_error_response)).
impl axum::response::IntoResponse for ClientError {
    fn into_response(self) -> axum::response::Response {
        crate::server::client_error_response(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rustls_error_is_found_inside_the_io_errors_that_wrap_it() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        // As hyper-rustls reports a handshake: an io error wrapping tokio-rustls' io error.
        let inner = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let boxed: BoxError = Box::new(std::io::Error::other(inner));
        assert!(tls_failure(boxed.as_ref()).is_some());
        let error = ClientError::new("api", boxed);
        assert_eq!(error.kind(), ClientErrorKind::Tls);
        assert_eq!(error.kind().as_str(), "tls");
        assert_eq!(
            error.verdict(),
            Verdict::Failure(Failure::Transport),
            "charged to the dependency"
        );
        let refused: BoxError =
            Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(tls_failure(refused.as_ref()).is_none());
        assert_eq!(
            ClientError::new("api", refused).kind(),
            ClientErrorKind::Transport
        );
    }

    #[test]
    fn a_tls_failure_is_not_retried_a_refused_connection_is() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
        let boxed: BoxError = Box::new(std::io::Error::other(tls));
        assert!(!ClientRetries.is_retryable(Attempt::Error(boxed.as_ref())));
        let refused: BoxError =
            Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(ClientRetries.is_retryable(Attempt::Error(refused.as_ref())));
    }
}
