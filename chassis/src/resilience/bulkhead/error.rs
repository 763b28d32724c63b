use std::fmt;

/// Why the bulkhead turned a call away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BulkheadRejection {
    /// Every permit was taken and the wait queue was full.
    QueueFull,
    /// The call waited in the queue for `max_wait` without getting a permit.
    WaitTimeout,
}

impl BulkheadRejection {
    /// The metric label: `queue_full` or `wait_timeout`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::QueueFull => "queue_full",
            Self::WaitTimeout => "wait_timeout",
        }
    }
}

/// The bulkhead rejected the call; the inner service was not called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkheadFull {
    reason: BulkheadRejection,
}

impl BulkheadFull {
    /// A rejection for `reason`.
    pub const fn new(reason: BulkheadRejection) -> Self {
        Self { reason }
    }

    /// Why the call was rejected.
    pub const fn reason(&self) -> BulkheadRejection {
        self.reason
    }

    /// Whether the wait queue was full.
    pub fn is_queue_full(&self) -> bool {
        self.reason == BulkheadRejection::QueueFull
    }

    /// Whether the call timed out waiting for a permit.
    pub fn is_wait_timeout(&self) -> bool {
        self.reason == BulkheadRejection::WaitTimeout
    }
}

impl fmt::Display for BulkheadFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            BulkheadRejection::QueueFull => f.write_str("bulkhead full: wait queue is full"),
            BulkheadRejection::WaitTimeout => {
                f.write_str("bulkhead full: timed out waiting for a permit")
            }
        }
    }
}

impl std::error::Error for BulkheadFull {}
