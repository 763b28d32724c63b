//! The retry decision: attempts, classification, Retry-After, deadline, budget.

use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method, StatusCode, header::RETRY_AFTER};
use tokio::time::Instant;
use tower::BoxError;

use super::{Attempt, Backoff, DefaultClassifier, RetryBudget, RetryClassifier};
use crate::resilience::{
    config::{InvalidResilienceConfig, RetryConfig},
    deadline::{Deadline, DeadlineExceeded},
};

/// A request extension that marks a request safe to retry whatever its method, for example
/// a `POST` carrying an idempotency key.
///
/// ```
/// use chassis::resilience::retry::Retryable;
///
/// let mut req = http::Request::post("/orders").body(())?;
/// req.extensions_mut().insert(Retryable);
/// # Ok::<(), http::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retryable;

/// Whether `method` is idempotent (RFC 9110 §9.2.2): GET, HEAD, OPTIONS, PUT, DELETE, TRACE.
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// Whether a request may be retried: an idempotent method or the [`Retryable`] marker.
pub fn is_retryable_request<B>(req: &http::Request<B>) -> bool {
    is_idempotent(req.method()) || req.extensions().get::<Retryable>().is_some()
}

/// Parses `Retry-After`: delay-seconds or an HTTP date (relative to `now`; a past date is
/// zero). `None` when malformed.
pub fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok().map(Duration::from_secs);
    }
    let date = httpdate::parse_http_date(text).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// How an attempt ended, the `outcome` label of `chassis_retry_attempts_total`.
///
/// Every attempt gets exactly one outcome, so the label values sum to the attempts made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// A response the classifier does not retry (it may still be, say, a 404 or a 500).
    Success,
    /// An error the classifier does not retry (a bulkhead rejection, an unknown error).
    Error,
    /// A retryable failure, and another attempt follows.
    Retried,
    /// A retryable failure on the last permitted attempt.
    Exhausted,
    /// A retryable failure of a request that may not be retried (non-idempotent method,
    /// unbuffered body) or whose `Retry-After` exceeds `retry_after_max`.
    NotRetryable,
    /// A retryable failure, but the retry budget is spent.
    BudgetExhausted,
    /// The deadline ran out: the attempt failed with
    /// [`DeadlineExceeded`](crate::resilience::deadline::DeadlineExceeded), or it failed
    /// retryably and no further attempt could finish before the deadline.
    Deadline,
}

impl Outcome {
    /// All outcomes, in label order.
    pub const ALL: [Self; 7] = [
        Self::Success,
        Self::Error,
        Self::Retried,
        Self::Exhausted,
        Self::NotRetryable,
        Self::BudgetExhausted,
        Self::Deadline,
    ];

    /// The metric label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Retried => "retried",
            Self::Exhausted => "exhausted",
            Self::NotRetryable => "not_retryable",
            Self::BudgetExhausted => "budget_exhausted",
            Self::Deadline => "deadline",
        }
    }
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Sleep this long, then attempt again.
    Retry(Duration),
    /// Return this attempt's result.
    Stop(Outcome),
}

/// The retry rules of one client; [`RetryPolicy::decide`] is the whole decision.
#[derive(Debug, Clone)]
pub struct RetryPolicy<C> {
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Backoff,
    pub(crate) retry_after_max: Duration,
    pub(crate) min_attempt_time: Duration,
    pub(crate) classifier: C,
}

impl RetryPolicy<DefaultClassifier> {
    /// The policy of `config` with the [`DefaultClassifier`].
    ///
    /// # Errors
    ///
    /// When a setting is out of range.
    pub fn from_config(config: &RetryConfig) -> Result<Self, InvalidResilienceConfig> {
        config.validate()?;
        Ok(Self {
            max_attempts: config.max_attempts,
            backoff: Backoff::new(config.backoff_base, config.backoff_max),
            retry_after_max: config.retry_after_max,
            min_attempt_time: config.min_attempt_time,
            classifier: DefaultClassifier,
        })
    }
}

impl<C> RetryPolicy<C> {
    /// The same policy with another classifier.
    pub fn with_classifier<D>(self, classifier: D) -> RetryPolicy<D> {
        RetryPolicy {
            max_attempts: self.max_attempts,
            backoff: self.backoff,
            retry_after_max: self.retry_after_max,
            min_attempt_time: self.min_attempt_time,
            classifier,
        }
    }

    /// The backoff.
    pub const fn backoff(&self) -> &Backoff {
        &self.backoff
    }
}

impl<C: RetryClassifier> RetryPolicy<C> {
    /// Decides after attempt number `attempts` (1 for the first) of a request that is
    /// `replayable` (retryable method or marker, and a buffered body).
    ///
    /// In order: a result the classifier does not call a retryable failure is final
    /// (`Success` for a response, `Deadline` for a spent deadline, `Error` otherwise); a request that is not replayable stops (`NotRetryable`); the last attempt
    /// stops (`Exhausted`); the delay is `Retry-After` on 429/503 (beyond `retry_after_max`:
    /// `NotRetryable`) or the jittered backoff; if the delay plus `min_attempt_time` does not
    /// fit before `deadline`, stop (`Deadline`); finally the budget must grant a withdrawal
    /// (`BudgetExhausted`).
    pub fn decide<B>(
        &self,
        attempts: u32,
        replayable: bool,
        result: &Result<http::Response<B>, BoxError>,
        deadline: Option<Deadline>,
        budget: &RetryBudget,
    ) -> Decision {
        let attempt = match result {
            Ok(res) => Attempt::Response(res.status(), res.headers()),
            Err(err) => Attempt::Error(&**err),
        };
        if !self.classifier.is_retryable(attempt) {
            return Decision::Stop(match result {
                Ok(_) => Outcome::Success,
                Err(err) if is_deadline(&**err) => Outcome::Deadline,
                Err(_) => Outcome::Error,
            });
        }
        if !replayable {
            return Decision::Stop(Outcome::NotRetryable);
        }
        if attempts >= self.max_attempts {
            return Decision::Stop(Outcome::Exhausted);
        }
        let delay = match Self::retry_after(attempt) {
            Some(wait) if wait > self.retry_after_max => {
                tracing::debug!(?wait, "Retry-After beyond retry_after_max; not retrying");
                return Decision::Stop(Outcome::NotRetryable);
            }
            Some(wait) => spread(wait),
            None => self.backoff.delay(attempts.saturating_sub(1)),
        };
        if let Some(deadline) = deadline {
            let left = deadline.instant().saturating_duration_since(Instant::now());
            if delay.saturating_add(self.min_attempt_time) >= left {
                return Decision::Stop(Outcome::Deadline);
            }
        }
        if !budget.withdraw() {
            return Decision::Stop(Outcome::BudgetExhausted);
        }
        Decision::Retry(delay)
    }

    fn retry_after(attempt: Attempt<'_>) -> Option<Duration> {
        let Attempt::Response(status, headers) = attempt else {
            return None;
        };
        if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
            return None;
        }
        parse_retry_after(headers.get(RETRY_AFTER)?, SystemTime::now())
    }
}

/// A server's `Retry-After` is a floor, not an appointment: every caller it told "in one
/// second" would come back in the same tick. The wait is spread over up to half as long
/// again (at least 100 ms more), so they come back over a window instead.
fn spread(floor: Duration) -> Duration {
    let window = (floor / 2).max(Duration::from_millis(100));
    floor + window.mul_f64(fastrand::f64())
}

/// Whether `err` or a source of it is [`DeadlineExceeded`].
fn is_deadline(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        if err.is::<DeadlineExceeded>() {
            return true;
        }
        next = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotent_methods() {
        for m in ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"] {
            assert!(is_idempotent(&m.parse().expect("method")), "{m}");
        }
        for m in ["POST", "PATCH", "CONNECT"] {
            assert!(!is_idempotent(&m.parse().expect("method")), "{m}");
        }
        let mut post = http::Request::post("/").body(()).expect("request");
        assert!(!is_retryable_request(&post));
        post.extensions_mut().insert(Retryable);
        assert!(is_retryable_request(&post));
    }

    #[test]
    fn decide_labels_final_results() {
        let policy = RetryPolicy::from_config(&RetryConfig::default()).expect("valid");
        let budget = RetryBudget::default();
        let decide = |result: Result<http::Response<()>, BoxError>| {
            policy.decide(1, true, &result, None, &budget)
        };
        let response = |code: u16| {
            Ok(http::Response::builder()
                .status(code)
                .body(())
                .expect("response"))
        };
        assert_eq!(decide(response(404)), Decision::Stop(Outcome::Success));
        assert_eq!(
            decide(Err(DeadlineExceeded::new().into())),
            Decision::Stop(Outcome::Deadline)
        );
        assert_eq!(
            decide(Err(std::io::Error::other("boom").into())),
            Decision::Stop(Outcome::Error)
        );
        assert!(
            matches!(decide(response(503)), Decision::Retry(d) if d <= Duration::from_millis(25))
        );
        assert_eq!(
            policy.decide(1, false, &response(503), None, &budget),
            Decision::Stop(Outcome::NotRetryable)
        );
        assert_eq!(
            policy.decide(3, true, &response(503), None, &budget),
            Decision::Stop(Outcome::Exhausted)
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let parse = |s: &'static str| parse_retry_after(&HeaderValue::from_static(s), now);
        assert_eq!(parse("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse(" 0 "), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        let later = HeaderValue::from_str(&later).expect("header");
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(7)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(60));
        let past = HeaderValue::from_str(&past).expect("header");
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        for bad in ["", "-1", "1.5", "soon", "99999999999999999999999"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
