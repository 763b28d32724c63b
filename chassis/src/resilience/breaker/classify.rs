//! What counts as a failure: the classifier strategy.

use std::any::Any;

use http::{Response, StatusCode};
use tower::BoxError;

use crate::resilience::blame::Verdict;

/// How a finished call counts for the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The dependency did its job (a 4xx is the caller's fault, so it is a success too).
    Success,
    /// The dependency failed; counts toward the failure rate.
    Failure,
    /// Neither: not recorded at all (in half-open the trial slot is given back).
    Ignored,
}

/// Decides the [`Outcome`] of a call from its result.
///
/// Implemented for closures `Fn(Result<&T, &E>) -> Outcome`, so any service can have a
/// breaker:
///
/// ```
/// use chassis::resilience::breaker::{Classify, Outcome};
///
/// let classify = |result: Result<&u32, &std::io::Error>| match result {
///     Ok(n) if *n >= 500 => Outcome::Failure,
///     Ok(_) => Outcome::Success,
///     Err(_) => Outcome::Failure,
/// };
/// assert_eq!(classify.classify(Ok(&503)), Outcome::Failure);
/// ```
pub trait Classify<T, E> {
    /// The outcome of one call.
    fn classify(&self, result: Result<&T, &E>) -> Outcome;
}

impl<F, T, E> Classify<T, E> for F
where
    F: Fn(Result<&T, &E>) -> Outcome,
{
    fn classify(&self, result: Result<&T, &E>) -> Outcome {
        self(result)
    }
}

/// The default for HTTP clients, by [blame](crate::resilience::blame): 5xx responses except
/// `501 Not Implemented`, the client's own timeouts and transport errors are failures; the
/// caller's spent deadline, a full bulkhead, no endpoint, an invalid request and a local
/// breaker's refusal (the chassis' errors, boxed, anywhere in the source chain) are
/// [`Outcome::Ignored`]; everything else, 4xx included, is a success. A 4xx says the request
/// was wrong, not that the dependency is unwell.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpClassifier;

impl<B, E: 'static> Classify<Response<B>, E> for HttpClassifier {
    fn classify(&self, result: Result<&Response<B>, &E>) -> Outcome {
        match result {
            Ok(response) => status_outcome(response.status()),
            Err(error) => error_outcome(error),
        }
    }
}

/// The [`HttpClassifier`] verdict for a status code.
pub fn status_outcome(status: StatusCode) -> Outcome {
    Verdict::of_status(status).outcome()
}

/// The verdict on an error of any type: a boxed error (what the chassis' layers return) or
/// an I/O error is judged by [`Verdict::of_error`]; any other is a failure.
fn error_outcome<E: 'static>(error: &E) -> Outcome {
    let any: &dyn Any = error;
    if let Some(boxed) = any.downcast_ref::<BoxError>() {
        return Verdict::of_error(boxed.as_ref()).outcome();
    }
    if let Some(io) = any.downcast_ref::<std::io::Error>() {
        return Verdict::of_error(io).outcome();
    }
    Outcome::Failure
}

/// For any service: every error is a failure, every response a success.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorClassifier;

impl<T, E> Classify<T, E> for ErrorClassifier {
    fn classify(&self, result: Result<&T, &E>) -> Outcome {
        if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> Outcome {
        let response = Response::builder()
            .status(status)
            .body(())
            .expect("valid response");
        Classify::<_, std::io::Error>::classify(&HttpClassifier, Ok(&response))
    }

    #[test]
    fn http_classifier_defaults() {
        assert_eq!(http(200), Outcome::Success);
        assert_eq!(http(404), Outcome::Success);
        assert_eq!(http(429), Outcome::Success);
        assert_eq!(http(500), Outcome::Failure);
        assert_eq!(http(501), Outcome::Success);
        assert_eq!(http(503), Outcome::Failure);
        let err = std::io::Error::other("connect refused");
        assert_eq!(
            Classify::<Response<()>, _>::classify(&HttpClassifier, Err(&err)),
            Outcome::Failure
        );
        let spent: BoxError = crate::resilience::deadline::DeadlineExceeded::new().into();
        assert_eq!(
            Classify::<Response<()>, _>::classify(&HttpClassifier, Err(&spent)),
            Outcome::Ignored,
            "the caller's deadline is not the dependency's failure"
        );
    }

    #[test]
    fn error_classifier_and_closures() {
        assert_eq!(
            ErrorClassifier.classify(Ok::<&u8, &()>(&1)),
            Outcome::Success
        );
        assert_eq!(
            ErrorClassifier.classify(Err::<&u8, &()>(&())),
            Outcome::Failure
        );
        let ignore_all = |_: Result<&u8, &()>| Outcome::Ignored;
        assert_eq!(ignore_all.classify(Ok(&1)), Outcome::Ignored);
    }
}
