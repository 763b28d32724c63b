//! [`WriterHold`]: a running service's claim on the writer.

use std::sync::Arc;
use std::time::Duration;

use super::FlushTimedOut;
use super::queue::Queue;

/// Keeps a [`NonBlocking`](super::NonBlocking) writer queueing while a service runs.
///
/// When the last hold of a writer goes (released, or dropped), everything queued is written
/// and later lines are written directly by the thread that logs them: the process is on its
/// way out, and a line logged after the last flush (`shutdown complete`) must not wait in a
/// queue that nobody writes before the process exits. A later hold makes it queue again.
#[must_use = "the writer queues only while a hold lives"]
pub struct WriterHold {
    pub(super) queue: Arc<Queue>,
}

impl std::fmt::Debug for WriterHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterHold").finish_non_exhaustive()
    }
}

impl WriterHold {
    /// Writes out what is queued, waiting at most `timeout`, then ends the hold.
    ///
    /// # Errors
    ///
    /// [`FlushTimedOut`] when the output did not take the queued lines in time (the hold
    /// still ends, and the writer thread goes on writing them).
    pub fn release(self, timeout: Duration) -> Result<(), FlushTimedOut> {
        self.queue.flush(timeout)
    }
}

impl Drop for WriterHold {
    fn drop(&mut self) {
        let last = {
            let mut state = self.queue.state();
            state.holds -= 1;
            state.holds == 0
        };
        if last {
            self.queue.go_direct();
        }
    }
}
