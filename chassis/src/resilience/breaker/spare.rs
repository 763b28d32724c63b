//! One spare breaker handle per thread, so a call through the tower service needs no
//! reference-count traffic.
//!
//! A call's future must own a handle on the breaker (it may outlive the service), and
//! cloning and dropping one costs two atomic read-modify-writes: more than the rest of a closed
//! call together, and when threads share a breaker, writes to one contended cache line. So a
//! future that completes leaves its handle here, and the next call through the same breaker
//! on this thread takes it instead of cloning one. A call through another breaker replaces
//! it. The price: a breaker dropped everywhere else lives on in a thread's spare until that
//! thread completes a call through another breaker, or ends.

use std::cell::Cell;
use std::sync::Arc;

use super::CircuitBreaker;

thread_local! {
    static SPARE: Cell<Option<CircuitBreaker>> = const { Cell::new(None) };
}

/// A handle on `breaker` for a call: this thread's spare when it is one of `breaker`, else a
/// clone.
#[inline]
pub(crate) fn take(breaker: &CircuitBreaker) -> CircuitBreaker {
    let spare = SPARE
        .try_with(|spare| match spare.take() {
            Some(handle) if Arc::ptr_eq(&handle.shared, &breaker.shared) => Some(handle),
            other => {
                spare.set(other);
                None
            }
        })
        .ok()
        .flatten();
    spare.unwrap_or_else(|| breaker.clone())
}

/// Leaves `handle` as this thread's spare (dropping the one it replaces).
#[inline]
pub(crate) fn keep(handle: CircuitBreaker) {
    let _ = SPARE.try_with(move |spare| spare.replace(Some(handle)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::breaker::BreakerConfig;

    fn breaker(name: &str) -> CircuitBreaker {
        CircuitBreaker::new(name, &BreakerConfig::default()).expect("valid")
    }

    #[test]
    fn a_kept_handle_is_taken_again_by_the_same_breaker_only() {
        let a = breaker("a");
        let b = breaker("b");
        let first = take(&a);
        assert_eq!(
            Arc::strong_count(&a.shared),
            2,
            "nothing spare yet: a clone"
        );
        keep(first);
        let again = take(&a);
        assert_eq!(
            Arc::strong_count(&a.shared),
            2,
            "the spare, not a new clone"
        );
        keep(again);
        let other = take(&b);
        assert_eq!(Arc::strong_count(&b.shared), 2);
        assert_eq!(Arc::strong_count(&a.shared), 2, "a's spare stays for a");
        keep(other);
        assert_eq!(Arc::strong_count(&a.shared), 1, "b's handle replaced a's");
        drop(b);
        keep(take(&a));
        let weak = Arc::downgrade(&a.shared);
        drop(a);
        assert!(weak.upgrade().is_some(), "a spare keeps its breaker alive");
        keep(breaker("c"));
        assert!(weak.upgrade().is_none(), "until replaced");
    }
}
