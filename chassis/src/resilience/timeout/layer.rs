use std::time::Duration;

use tower::Layer;

use super::{Timeout, TimeoutKind};

/// Applies an overall or a per-attempt timeout to HTTP calls; see the [module docs](super).
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct TimeoutLayer {
    timeout: Option<Duration>,
    kind: TimeoutKind,
}

impl TimeoutLayer {
    /// A timeout for the whole call, retries and backoff included (outside the retry layer).
    pub const fn overall(timeout: Duration) -> Self {
        Self {
            timeout: Some(timeout),
            kind: TimeoutKind::Overall,
        }
    }

    /// An overall timeout only for calls whose request carries a
    /// [`CallTimeout`](super::CallTimeout) (a client configured without one).
    pub const fn per_call() -> Self {
        Self {
            timeout: None,
            kind: TimeoutKind::Overall,
        }
    }

    /// A timeout for each attempt (inside the retry layer); its [`Elapsed`](super::Elapsed)
    /// is retryable.
    pub const fn per_attempt(timeout: Duration) -> Self {
        Self {
            timeout: Some(timeout),
            kind: TimeoutKind::Attempt,
        }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        match self.timeout {
            Some(timeout) => Timeout::new(inner, timeout, self.kind),
            None => Timeout::per_call_only(inner),
        }
    }
}
