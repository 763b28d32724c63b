//! Why a request's future is dropped before it completes, told to the telemetry layer inside
//! it: the server's request timeout drops the handler with a thread-local flag set, so the
//! layer records the `504` the client gets; a request dropped without it (its client went
//! away) is not recorded.

use std::cell::Cell;
use std::pin::Pin;

thread_local! {
    /// Set while a request that ran out of time is being dropped.
    static EXPIRING: Cell<bool> = const { Cell::new(false) };
}

/// Whether what is being dropped on this thread is a request that ran out of time: the
/// telemetry layer inside then records it as the `504` it is answered with.
pub(crate) fn dropping_expired() -> bool {
    EXPIRING.with(Cell::get)
}

/// Drops a request that ran out of time, now rather than when its response is long gone,
/// with [`dropping_expired`] true meanwhile.
pub(crate) fn drop_expired<F>(mut inner: Pin<&mut Option<F>>) {
    let _expiring = Expiring::start();
    inner.set(None);
}

/// Sets [`EXPIRING`], and puts back what it was however the drop ends (timeouts nest).
struct Expiring {
    before: bool,
}

impl Expiring {
    fn start() -> Self {
        Self {
            before: EXPIRING.with(|expiring| expiring.replace(true)),
        }
    }
}

impl Drop for Expiring {
    fn drop(&mut self) {
        EXPIRING.with(|expiring| expiring.set(self.before));
    }
}
