use std::{error::Error, fmt, time::Duration};

use crate::resilience::deadline::DeadlineExceeded;

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// The whole call, retries included.
    Overall,
    /// One attempt.
    Attempt,
}

/// A call or an attempt took longer than its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed {
    timeout: Duration,
    kind: TimeoutKind,
}

impl Elapsed {
    /// A new error for a `timeout` of this kind.
    pub const fn new(timeout: Duration, kind: TimeoutKind) -> Self {
        Self { timeout, kind }
    }

    /// The timeout that fired.
    pub const fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Which timeout fired.
    pub const fn kind(&self) -> TimeoutKind {
        self.kind
    }

    /// Whether a per-attempt timeout fired (worth a retry).
    pub fn is_attempt(&self) -> bool {
        self.kind == TimeoutKind::Attempt
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TimeoutKind::Overall => "request",
            TimeoutKind::Attempt => "attempt",
        };
        write!(
            f,
            "{what} timed out after {}",
            humantime::format_duration(self.timeout)
        )
    }
}

impl Error for Elapsed {}

/// Whether `err` or any error in its `source()` chain is a timeout: [`Elapsed`],
/// [`DeadlineExceeded`], tower's or tokio's `Elapsed`, or an I/O `TimedOut`.
pub fn is_timeout(err: &(dyn Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        if err.is::<Elapsed>()
            || err.is::<DeadlineExceeded>()
            || err.is::<tower::timeout::error::Elapsed>()
            || err.is::<tokio::time::error::Elapsed>()
            || err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        next = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(Box<dyn Error + Send + Sync>);
    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("wrapper")
        }
    }
    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&*self.0)
        }
    }

    #[test]
    fn classification_walks_sources() {
        let leaf = Elapsed::new(Duration::from_millis(250), TimeoutKind::Attempt);
        assert_eq!(leaf.to_string(), "attempt timed out after 250ms");
        assert!(is_timeout(&Wrapper(Box::new(leaf))));
        assert!(is_timeout(&Wrapper(Box::new(DeadlineExceeded::new()))));
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        assert!(is_timeout(&Wrapper(Box::new(io))));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(!is_timeout(&Wrapper(Box::new(refused))));
    }
}
