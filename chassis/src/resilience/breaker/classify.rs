//! What counts as a failure: the classifier strategy.

use http::{Response, StatusCode};

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

/// The default for HTTP clients: errors (connect errors, timeouts, a rejected call below) and
/// 5xx responses except `501 Not Implemented` are failures; everything else, 4xx included, is
/// a success. A 4xx says the request was wrong, not that the dependency is unwell.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpClassifier;

impl<B, E> Classify<Response<B>, E> for HttpClassifier {
    fn classify(&self, result: Result<&Response<B>, &E>) -> Outcome {
        match result {
            Ok(response) => status_outcome(response.status()),
            Err(_) => Outcome::Failure,
        }
    }
}

/// The [`HttpClassifier`] verdict for a status code.
pub fn status_outcome(status: StatusCode) -> Outcome {
    if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
        Outcome::Failure
    } else {
        Outcome::Success
    }
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
