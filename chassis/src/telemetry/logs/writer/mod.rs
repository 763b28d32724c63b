//! [`NonBlocking`]: log lines queued in memory and written by a thread of their own, so the
//! thread that logs (a request's) never makes a system call for it.
//!
//! ```
//! use std::time::Duration;
//!
//! use chassis::telemetry::{TelemetryConfig, logs};
//!
//! let writer = logs::NonBlocking::new(std::io::sink());
//! let (subscriber, _handle) = logs::subscriber(&TelemetryConfig::default(), None, writer.clone())?;
//! tracing::subscriber::with_default(subscriber, || tracing::info!("queued, not written"));
//! writer.flush(Duration::from_secs(1))?; // written now
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Why
//!
//! Writing each line to stdout as it is logged costs a `write` system call in the thread
//! that logs, per line: with one access-log line per request, a system call per request,
//! and a request that waits whenever stdout is slow (a full pipe, a stalled log collector).
//! Here a line is copied into a buffer (no allocation once warm), and a writer thread writes
//! the whole buffer in one call every 10 ms (at once when a quarter full, or on a flush).
//!
//! The queue is bounded ([`NonBlocking::DEFAULT_CAPACITY`], 1 MiB): when the output cannot
//! keep up, new lines are **dropped** and counted ([`NonBlocking::dropped_lines`], and a
//! warning line once a second) rather than making requests wait for the log output: a slow
//! log collector must not become an outage. Lines are never torn: a line is queued whole or
//! dropped whole, and lines keep their order.
//!
//! `tracing-appender`'s `non_blocking` does the same job but did not fit: it sends each line
//! through a channel as its own allocation, wakes its thread for every line once it has gone
//! idle (a `futex` system call in the thread that logs), and flushes only when its guard is
//! dropped, which ends the writer: with several services in one process, the first to stop
//! would end logging for the others.
//!
//! # Shutdown
//!
//! [`init_logging`](super::init_logging) writes to stdout through a `NonBlocking`; each
//! service the runtime starts takes a [`WriterHold`] and releases it in a shutdown hook, which
//! writes what is queued. When the last hold goes, lines are written directly by the thread
//! that logs them, so the lines logged after the hooks reach stdout before the process exits.
//! Unless the output is stalled: when the writer thread is stuck writing (stdout to a pipe
//! nobody reads), a direct write waits at most 50 ms for it and then queues the line behind
//! it, so a service can still shut down with its stdout full.
//! A program that uses `init_logging` on its own should call [`NonBlocking::flush`] (through
//! [`LogHandle::writer`](super::LogHandle::writer)) before it exits. Lines queued when the
//! process is killed or aborts (at most 10 ms of them) are lost.

mod hold;
mod queue;
mod worker;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

pub use hold::WriterHold;
use queue::Queue;

/// A [`NonBlocking::flush`] that did not finish in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("log lines not written within {0:?}")]
pub struct FlushTimedOut(pub Duration);

/// A `MakeWriter` that queues whole lines for a writer thread of its own, so the thread that
/// logs makes no system call for them.
///
/// Cheap to clone: clones share the queue. When the last clone is dropped, the writer thread
/// writes what is left and ends.
#[derive(Clone)]
pub struct NonBlocking {
    owner: Arc<Owner>,
}

/// Closes the queue when the last handle goes.
struct Owner {
    queue: Arc<Queue>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.queue.close();
    }
}

impl std::fmt::Debug for NonBlocking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonBlocking")
            .field("dropped_lines", &self.dropped_lines())
            .finish_non_exhaustive()
    }
}

impl NonBlocking {
    /// Bytes queued at most by [`NonBlocking::new`].
    pub const DEFAULT_CAPACITY: usize = 1 << 20;

    /// A writer into `sink` queueing up to [`NonBlocking::DEFAULT_CAPACITY`] bytes.
    ///
    /// If the system refuses the writer thread, lines are written directly (as if the
    /// writer had no hold left).
    pub fn new<W: io::Write + Send + 'static>(sink: W) -> Self {
        Self::with_capacity(sink, Self::DEFAULT_CAPACITY)
    }

    /// A writer into `sink` queueing up to `capacity` bytes.
    pub fn with_capacity<W: io::Write + Send + 'static>(sink: W, capacity: usize) -> Self {
        let queue = Arc::new(Queue::new(Box::new(sink), capacity));
        let worker = worker::spawn(Arc::clone(&queue)).is_some();
        let mut state = queue.state();
        (state.worker, state.direct) = (worker, !worker);
        drop(state);
        Self {
            owner: Arc::new(Owner { queue }),
        }
    }

    /// Waits until every line queued before the call is written to the sink, at most
    /// `timeout`. Blocks the calling thread: from async code, call it in
    /// `tokio::task::spawn_blocking`.
    ///
    /// # Errors
    ///
    /// [`FlushTimedOut`] when the sink did not take them in time.
    pub fn flush(&self, timeout: Duration) -> Result<(), FlushTimedOut> {
        self.owner.queue.flush(timeout)
    }

    /// Lines dropped so far because the queue was full.
    pub fn dropped_lines(&self) -> u64 {
        self.owner.queue.dropped()
    }

    /// A claim that keeps the writer queueing until it is released (see [`WriterHold`]).
    pub fn hold(&self) -> WriterHold {
        let queue = Arc::clone(&self.owner.queue);
        let mut state = queue.state();
        state.holds += 1;
        state.direct = !state.worker;
        drop(state);
        WriterHold { queue }
    }
}

impl<'a> MakeWriter<'a> for NonBlocking {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            queue: &self.owner.queue,
        }
    }
}

/// What [`NonBlocking`] hands the subscriber for one event: each `write` is queued whole.
pub struct LineWriter<'a> {
    queue: &'a Queue,
}

impl std::fmt::Debug for LineWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineWriter").finish_non_exhaustive()
    }
}

impl io::Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.queue.push(buf);
        Ok(buf.len())
    }

    /// Does not wait: [`NonBlocking::flush`] does.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
