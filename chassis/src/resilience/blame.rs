//! Blame: who a finished call is charged to. One classification, read by every policy.
//!
//! ```
//! use chassis::resilience::blame::{Cause, Failure, Verdict};
//! use chassis::resilience::deadline::DeadlineExceeded;
//!
//! // The caller's deadline was spent: not the dependency's doing.
//! let spent: tower::BoxError = DeadlineExceeded::new().into();
//! assert_eq!(Verdict::of_error(&*spent), Verdict::NotCharged(Cause::Deadline));
//! // A 503 is the dependency failing; a 404 is the caller's mistake.
//! assert_eq!(Verdict::of_status(http::StatusCode::SERVICE_UNAVAILABLE), Verdict::Failure(Failure::Status));
//! assert_eq!(Verdict::of_status(http::StatusCode::NOT_FOUND), Verdict::Success);
//! ```
//!
//! # Why
//!
//! A circuit breaker, outlier ejection and retries all ask the same question of a finished
//! call: did the *dependency* fail? A breaker that also counts the caller's own failures can
//! be turned against its service: a caller sending `x-request-timeout-ms: 0` would make
//! every outbound call fail at once and open the breaker in front of a healthy dependency.
//! As Finagle's `ResponseClassifier` does, a result is classified once, here, and every
//! policy reads the verdict; as Linkerd's failure accrual does, only what the dependency did
//! counts.
//!
//! | verdict | what happened |
//! |---|---|
//! | [`Verdict::Failure`] | the client's own timeout (overall or per attempt) fired, the connection or transport failed, or the response is classified a failure (5xx but 501 by default; for gRPC `UNAVAILABLE`, `INTERNAL`, `UNKNOWN`, `DATA_LOSS`, and `DEADLINE_EXCEEDED` when the client's own timeout set the deadline) |
//! | [`Verdict::NotCharged`] | the caller's deadline was spent, the local bulkhead was full, no endpoint was known, the request was invalid, a local breaker refused, or the caller gave up |
//! | [`Verdict::Success`] | any other response (a 4xx, or a gRPC `INVALID_ARGUMENT`, `NOT_FOUND`, ..., is the caller's mistake) |
//!
//! Failures count toward the breakers' failure rates and eject endpoints; what is not
//! charged is not recorded at all (a half-open trial slot is given back). Every verdict is
//! counted in `chassis_client_outcomes_total{client, scope, kind}` (see [`Verdict::kind`]).

use std::error::Error;
use std::fmt;

use http::StatusCode;
use tower::BoxError;

use super::breaker::{BreakerOpen, Outcome};
use super::bulkhead::BulkheadFull;
use super::deadline::DeadlineExceeded;
use super::timeout::Elapsed;
use crate::discovery::NoEndpoint;

/// Who a finished call is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// The dependency did its job.
    Success,
    /// The dependency failed: counted by breakers, outlier ejection and retries.
    Failure(Failure),
    /// Not the dependency's doing: never counted against it.
    NotCharged(Cause),
}

/// How a dependency failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Failure {
    /// The client's own timeout (overall or per attempt) fired.
    Timeout,
    /// Connecting or talking to the dependency failed.
    Transport,
    /// The response is classified a failure (a 5xx other than 501).
    Status,
}

/// Why a failed call is not the dependency's doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cause {
    /// The caller's deadline was spent (before or during the call).
    Deadline,
    /// The local bulkhead was full.
    Bulkhead,
    /// No endpoint was known for the service.
    NoEndpoint,
    /// The request could not be built or sent as asked.
    InvalidRequest,
    /// A local circuit breaker refused the call.
    BreakerOpen,
    /// The caller gave up: the call's future was dropped before it ended.
    Cancelled,
}

impl Verdict {
    /// Every `kind` label value, in a fixed order.
    pub const KINDS: [&'static str; 10] = [
        "success",
        "timeout",
        "transport",
        "status",
        "deadline",
        "bulkhead",
        "no_endpoint",
        "invalid_request",
        "breaker_open",
        "cancelled",
    ];

    /// The verdict on a response status: a 5xx other than `501 Not Implemented` is a failure
    /// of the dependency, anything else a success.
    pub fn of_status(status: StatusCode) -> Self {
        if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
            Self::Failure(Failure::Status)
        } else {
            Self::Success
        }
    }

    /// The verdict on a gRPC status code (from a trailers-only answer's headers or the
    /// trailers): `UNAVAILABLE`, `INTERNAL`, `UNKNOWN` and `DATA_LOSS` are failures of the
    /// dependency; `DEADLINE_EXCEEDED` is a timeout of the dependency when the deadline it
    /// ran out of was the client's own (its timeout), and not charged when it was the
    /// caller's (`caller_deadline`: the inbound deadline was the tighter one); `CANCELLED` is
    /// not charged; every other code (`OK`, `INVALID_ARGUMENT`, `NOT_FOUND`,
    /// `RESOURCE_EXHAUSTED`, `UNIMPLEMENTED`, ...) is a success: the dependency answered, and
    /// the caller's request was what failed.
    ///
    /// ```
    /// use chassis::resilience::blame::{Cause, Failure, Verdict};
    ///
    /// assert_eq!(Verdict::of_grpc_status(14, false), Verdict::Failure(Failure::Status));
    /// assert_eq!(Verdict::of_grpc_status(3, false), Verdict::Success); // INVALID_ARGUMENT
    /// assert_eq!(Verdict::of_grpc_status(4, false), Verdict::Failure(Failure::Timeout));
    /// assert_eq!(Verdict::of_grpc_status(4, true), Verdict::NotCharged(Cause::Deadline));
    /// ```
    pub const fn of_grpc_status(code: i32, caller_deadline: bool) -> Self {
        match code {
            2 | 13 | 14 | 15 => Self::Failure(Failure::Status),
            4 if caller_deadline => Self::NotCharged(Cause::Deadline),
            4 => Self::Failure(Failure::Timeout),
            1 => Self::NotCharged(Cause::Cancelled),
            _ => Self::Success,
        }
    }

    /// The verdict on an error, from the first recognised error in its `source()` chain; an
    /// error it does not recognise is a transport failure.
    pub fn of_error(error: &(dyn Error + 'static)) -> Self {
        let mut current = Some(error);
        while let Some(err) = current {
            if let Some(verdict) = recognise(err) {
                return verdict;
            }
            current = err.source();
        }
        Self::Failure(Failure::Transport)
    }

    /// What a circuit breaker records for this verdict.
    pub const fn outcome(self) -> Outcome {
        match self {
            Self::Success => Outcome::Success,
            Self::Failure(_) => Outcome::Failure,
            Self::NotCharged(_) => Outcome::Ignored,
        }
    }

    /// Whether the dependency is charged with a failure.
    pub const fn is_failure(self) -> bool {
        matches!(self, Self::Failure(_))
    }

    /// The `kind` label: one of [`Verdict::KINDS`].
    pub const fn kind(self) -> &'static str {
        Self::KINDS[self.index()]
    }

    /// The position of [`Verdict::kind`] in [`Verdict::KINDS`].
    pub(crate) const fn index(self) -> usize {
        match self {
            Self::Success => 0,
            Self::Failure(Failure::Timeout) => 1,
            Self::Failure(Failure::Transport) => 2,
            Self::Failure(Failure::Status) => 3,
            Self::NotCharged(Cause::Deadline) => 4,
            Self::NotCharged(Cause::Bulkhead) => 5,
            Self::NotCharged(Cause::NoEndpoint) => 6,
            Self::NotCharged(Cause::InvalidRequest) => 7,
            Self::NotCharged(Cause::BreakerOpen) => 8,
            Self::NotCharged(Cause::Cancelled) => 9,
        }
    }
}

/// The verdict of one error (not its sources), if it is one the chassis knows.
fn recognise(err: &(dyn Error + 'static)) -> Option<Verdict> {
    let verdict = if err.is::<Elapsed>() || err.is::<tower::timeout::error::Elapsed>() {
        Verdict::Failure(Failure::Timeout)
    } else if err.is::<DeadlineExceeded>() {
        Verdict::NotCharged(Cause::Deadline)
    } else if err.is::<BulkheadFull>() {
        Verdict::NotCharged(Cause::Bulkhead)
    } else if err.is::<NoEndpoint>() {
        Verdict::NotCharged(Cause::NoEndpoint)
    } else if err.is::<InvalidRequest>()
        || err.is::<http_body_util::LengthLimitError>()
        || err.is::<tower_http::timeout::TimeoutError>()
    {
        // Also a request body that grew past the server's limit or stalled while it was
        // being forwarded: the caller's, not the dependency's.
        Verdict::NotCharged(Cause::InvalidRequest)
    } else if err.is::<BreakerOpen>() {
        Verdict::NotCharged(Cause::BreakerOpen)
    } else {
        return None;
    };
    Some(verdict)
}

/// The request could not be built or sent as asked (a bad URI, a body that does not
/// serialize): the caller's mistake, never charged to the dependency.
#[derive(Debug)]
pub struct InvalidRequest(BoxError);

impl InvalidRequest {
    /// Wraps what was wrong with the request.
    pub fn new(source: impl Into<BoxError>) -> Self {
        Self(source.into())
    }
}

impl fmt::Display for InvalidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid request: {}", self.0)
    }
}

impl Error for InvalidRequest {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.0.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::resilience::bulkhead::BulkheadRejection;
    use crate::resilience::timeout::TimeoutKind;

    /// An error wrapping another, as layers box them.
    #[derive(Debug)]
    struct Wrapped(BoxError);

    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("wrapped")
        }
    }

    impl Error for Wrapped {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(self.0.as_ref())
        }
    }

    fn verdict(error: impl Into<BoxError>) -> Verdict {
        let wrapped = Wrapped(error.into());
        Verdict::of_error(&wrapped)
    }

    #[test]
    fn each_leaf_is_recognised_through_wrappers() {
        let elapsed = Elapsed::new(Duration::from_millis(5), TimeoutKind::Attempt);
        assert_eq!(verdict(elapsed), Verdict::Failure(Failure::Timeout));
        assert_eq!(
            verdict(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            Verdict::Failure(Failure::Transport)
        );
        assert_eq!(
            verdict(DeadlineExceeded::new()),
            Verdict::NotCharged(Cause::Deadline)
        );
        assert_eq!(
            verdict(BulkheadFull::new(BulkheadRejection::QueueFull)),
            Verdict::NotCharged(Cause::Bulkhead)
        );
        assert_eq!(
            verdict(NoEndpoint("catalog".to_owned())),
            Verdict::NotCharged(Cause::NoEndpoint)
        );
        assert_eq!(
            verdict(InvalidRequest::new("bad uri")),
            Verdict::NotCharged(Cause::InvalidRequest)
        );
    }

    #[test]
    fn statuses_and_labels() {
        assert_eq!(Verdict::of_status(StatusCode::OK), Verdict::Success);
        assert_eq!(
            Verdict::of_status(StatusCode::TOO_MANY_REQUESTS),
            Verdict::Success
        );
        assert_eq!(
            Verdict::of_status(StatusCode::NOT_IMPLEMENTED),
            Verdict::Success
        );
        assert!(Verdict::of_status(StatusCode::BAD_GATEWAY).is_failure());
        let all = [
            Verdict::Success,
            Verdict::Failure(Failure::Timeout),
            Verdict::Failure(Failure::Transport),
            Verdict::Failure(Failure::Status),
            Verdict::NotCharged(Cause::Deadline),
            Verdict::NotCharged(Cause::Bulkhead),
            Verdict::NotCharged(Cause::NoEndpoint),
            Verdict::NotCharged(Cause::InvalidRequest),
            Verdict::NotCharged(Cause::BreakerOpen),
            Verdict::NotCharged(Cause::Cancelled),
        ];
        for (i, v) in all.into_iter().enumerate() {
            assert_eq!(v.index(), i);
            assert_eq!(v.kind(), Verdict::KINDS[i]);
        }
        assert_eq!(
            Verdict::NotCharged(Cause::Cancelled).outcome(),
            Outcome::Ignored
        );
    }
}
