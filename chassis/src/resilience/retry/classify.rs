//! Which attempt results are worth a retry.

use std::error::Error;

use http::{HeaderMap, StatusCode};

use crate::resilience::{
    deadline::DeadlineExceeded,
    timeout::{Elapsed, is_timeout},
};

/// The result of one attempt, as a classifier sees it.
#[derive(Debug, Clone, Copy)]
pub enum Attempt<'a> {
    /// A response arrived.
    Response(StatusCode, &'a HeaderMap),
    /// The attempt failed.
    Error(&'a (dyn Error + Send + Sync + 'static)),
}

/// Decides whether an attempt failed in a way a retry may fix.
///
/// Implemented for closures `Fn(Attempt<'_>) -> bool`, and by [`DefaultClassifier`].
/// Whether the *request* may be retried (idempotent method or [`Retryable`](super::Retryable))
/// is decided separately.
///
/// ```
/// use chassis::resilience::retry::{Attempt, RetryClassifier};
///
/// let only_503 = |attempt: Attempt<'_>| {
///     matches!(attempt, Attempt::Response(status, _) if status == 503)
/// };
/// let headers = http::HeaderMap::new();
/// assert!(only_503.is_retryable(Attempt::Response(http::StatusCode::SERVICE_UNAVAILABLE, &headers)));
/// ```
pub trait RetryClassifier {
    /// Whether this attempt's result is a retryable failure.
    fn is_retryable(&self, attempt: Attempt<'_>) -> bool;
}

impl<F> RetryClassifier for F
where
    F: Fn(Attempt<'_>) -> bool,
{
    fn is_retryable(&self, attempt: Attempt<'_>) -> bool {
        self(attempt)
    }
}

/// Retries connect errors, per-attempt timeouts, 429, 502, 503 and 504.
///
/// Not retried: other statuses, a spent deadline ([`DeadlineExceeded`]), the overall timeout,
/// and errors it does not recognise (a request that may have reached the server is not
/// replayed on a guess).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultClassifier;

impl RetryClassifier for DefaultClassifier {
    fn is_retryable(&self, attempt: Attempt<'_>) -> bool {
        match attempt {
            Attempt::Response(status, _) => matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS
                    | StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            ),
            Attempt::Error(err) => is_retryable_error(err),
        }
    }
}

/// For gRPC calls: a trailers-only answer (its status in the headers) is retried when it is
/// `UNAVAILABLE` (14), as gRPC's own retry policy does by default; an answer whose status
/// comes later, in the trailers, has begun and is never replayed; a non-gRPC answer (a proxy's
/// `503`) and an error are judged as [`DefaultClassifier`] judges them.
///
/// ```
/// use chassis::resilience::retry::{Attempt, GrpcClassifier, RetryClassifier};
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("grpc-status", http::HeaderValue::from_static("14"));
/// assert!(GrpcClassifier.is_retryable(Attempt::Response(http::StatusCode::OK, &headers)));
/// headers.insert("grpc-status", http::HeaderValue::from_static("3")); // INVALID_ARGUMENT
/// assert!(!GrpcClassifier.is_retryable(Attempt::Response(http::StatusCode::OK, &headers)));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcClassifier;

/// gRPC's `UNAVAILABLE`.
const UNAVAILABLE: i32 = 14;

impl RetryClassifier for GrpcClassifier {
    fn is_retryable(&self, attempt: Attempt<'_>) -> bool {
        match attempt {
            Attempt::Response(status, headers) => {
                let code = headers
                    .get("grpc-status")
                    .and_then(|value| value.to_str().ok()?.trim().parse::<i32>().ok());
                match code {
                    Some(code) => code == UNAVAILABLE,
                    None if status == StatusCode::OK => false,
                    None => DefaultClassifier.is_retryable(attempt),
                }
            }
            Attempt::Error(_) => DefaultClassifier.is_retryable(attempt),
        }
    }
}

fn is_retryable_error(err: &(dyn Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        if err.is::<DeadlineExceeded>() {
            return false;
        }
        if let Some(elapsed) = err.downcast_ref::<Elapsed>() {
            return elapsed.is_attempt();
        }
        if is_connect_error(err) {
            return true;
        }
        next = err.source();
    }
    is_timeout(err)
}

fn is_connect_error(err: &(dyn Error + 'static)) -> bool {
    if let Some(err) = err.downcast_ref::<hyper_util::client::legacy::Error>() {
        return err.is_connect();
    }
    err.downcast_ref::<std::io::Error>().is_some_and(|err| {
        use std::io::ErrorKind::{
            AddrNotAvailable, ConnectionAborted, ConnectionRefused, ConnectionReset, NotConnected,
        };
        matches!(
            err.kind(),
            ConnectionRefused
                | ConnectionReset
                | ConnectionAborted
                | NotConnected
                | AddrNotAvailable
        )
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::resilience::timeout::TimeoutKind;

    fn error(err: impl Error + Send + Sync + 'static) -> bool {
        let boxed: tower::BoxError = Box::new(err);
        DefaultClassifier.is_retryable(Attempt::Error(&*boxed))
    }

    #[test]
    fn default_statuses() {
        let headers = HeaderMap::new();
        let retryable = |code: u16| {
            let status = StatusCode::from_u16(code).expect("valid status");
            DefaultClassifier.is_retryable(Attempt::Response(status, &headers))
        };
        for code in [429, 502, 503, 504] {
            assert!(retryable(code), "{code}");
        }
        for code in [200, 204, 400, 404, 409, 500, 501] {
            assert!(!retryable(code), "{code}");
        }
    }

    #[test]
    fn default_errors() {
        assert!(error(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused
        )));
        assert!(error(Elapsed::new(
            Duration::from_millis(1),
            TimeoutKind::Attempt
        )));
        assert!(!error(Elapsed::new(
            Duration::from_millis(1),
            TimeoutKind::Overall
        )));
        assert!(!error(DeadlineExceeded::new()));
        assert!(!error(std::io::Error::other("boom")));
    }
}
