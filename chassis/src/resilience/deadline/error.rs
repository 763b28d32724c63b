use std::fmt;

/// The request's deadline passed (or had passed before the call started).
///
/// Returned by [`PropagateDeadline`](super::PropagateDeadline) without calling the inner
/// service when the budget is already spent, and when the call outlives the deadline.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineExceeded(());

impl DeadlineExceeded {
    /// A new `DeadlineExceeded` error.
    pub const fn new() -> Self {
        Self(())
    }
}

impl fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request deadline exceeded")
    }
}

impl std::error::Error for DeadlineExceeded {}
