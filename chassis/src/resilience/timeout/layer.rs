use std::time::Duration;

use tower::Layer;

use super::{Timeout, TimeoutKind};

/// Applies an overall or a per-attempt timeout to HTTP calls; see the [module docs](super).
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct TimeoutLayer {
    timeout: Duration,
    kind: TimeoutKind,
}

impl TimeoutLayer {
    /// A timeout for the whole call, retries and backoff included (outside the retry layer).
    pub const fn overall(timeout: Duration) -> Self {
        Self {
            timeout,
            kind: TimeoutKind::Overall,
        }
    }

    /// A timeout for each attempt (inside the retry layer); its [`Elapsed`](super::Elapsed)
    /// is retryable.
    pub const fn per_attempt(timeout: Duration) -> Self {
        Self {
            timeout,
            kind: TimeoutKind::Attempt,
        }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout::new(inner, self.timeout, self.kind)
    }
}
