//! The bounded byte queue between the threads that log and the writer thread.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use super::FlushTimedOut;

/// Bytes each of the two buffers starts with, so that logging does not allocate once warm.
const INITIAL: usize = 64 * 1024;

/// How long a direct write waits for the sink while the writer thread holds it; past that
/// the output is taken as stalled and the line is queued (or dropped) instead.
const DIRECT_WAIT: Duration = Duration::from_millis(50);

/// Lines queued by the threads that log, written by the writer thread.
pub(super) struct Queue {
    state: Mutex<State>,
    /// The writer thread waits here between batches.
    work: Condvar,
    /// Flushes wait here for a batch to be written.
    written: Condvar,
    /// Locked while a batch is written, so that lines reach it in the order they were queued.
    sink: Mutex<Box<dyn Write + Send>>,
    capacity: usize,
    dropped: AtomicU64,
    /// A direct write found the sink held past [`DIRECT_WAIT`] (a writer blocked on a full
    /// stdout): later direct writes do not wait, until a batch is written again.
    stalled: AtomicBool,
}

#[allow(
    clippy::struct_excessive_bools,
    reason = "independent flags, read and set under one lock"
)]
pub(super) struct State {
    /// Whole lines, in order.
    pending: Vec<u8>,
    /// Bytes ever queued, and of those, written.
    queued: u64,
    written: u64,
    /// The writer thread was woken early (a flush, or the queue past a quarter full).
    woken: bool,
    /// Flushes waiting.
    waiting: usize,
    /// Lines go straight to the sink: no writer thread, or the last hold was released.
    pub(super) direct: bool,
    /// Live holds (running services).
    pub(super) holds: usize,
    /// A writer thread runs.
    pub(super) worker: bool,
    /// Every handle is gone: the writer thread writes what is left and ends.
    pub(super) closed: bool,
}

impl Queue {
    pub(super) fn new(sink: Box<dyn Write + Send>, capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                pending: Vec::with_capacity(INITIAL.min(capacity)),
                queued: 0,
                written: 0,
                woken: false,
                waiting: 0,
                direct: false,
                holds: 0,
                worker: false,
                closed: false,
            }),
            work: Condvar::new(),
            written: Condvar::new(),
            sink: Mutex::new(sink),
            capacity,
            dropped: AtomicU64::new(0),
            stalled: AtomicBool::new(false),
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sink(&self) -> MutexGuard<'_, Box<dyn Write + Send>> {
        self.sink.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues one line; never waits for the sink. A line that does not fit is dropped and
    /// counted. Once direct, writes it (and anything queued before it) itself.
    pub(super) fn push(&self, line: &[u8]) {
        let state = self.state();
        if state.direct {
            drop(state);
            self.write_through(line);
            return;
        }
        self.enqueue(state, line);
    }

    /// Queues `line` after what is pending, or drops and counts it when it does not fit.
    fn enqueue(&self, mut state: MutexGuard<'_, State>, line: &[u8]) {
        if line.is_empty() {
            return;
        }
        if state.pending.len() + line.len() > self.capacity {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        state.pending.extend_from_slice(line);
        state.queued += line.len() as u64;
        // The writer thread wakes on its own every interval; past a quarter full it is
        // woken at once, once per batch.
        if state.pending.len() >= self.capacity / 4 && !std::mem::replace(&mut state.woken, true) {
            self.work.notify_one();
        }
    }

    /// Writes what is queued, then `line`, in the calling thread. When the writer thread
    /// holds the sink past [`DIRECT_WAIT`] (stuck writing to a stalled output), `line` is
    /// queued behind its batch instead: a thread that logs never waits on the output for
    /// long, so a service can still shut down with its stdout full.
    pub(super) fn write_through(&self, line: &[u8]) {
        let Some(mut sink) = self.sink_within(DIRECT_WAIT) else {
            self.enqueue(self.state(), line);
            return;
        };
        let (mut batch, upto) = self.take(&mut Vec::new());
        batch.extend_from_slice(line);
        if !batch.is_empty() {
            let _ = sink.write_all(&batch).and_then(|()| sink.flush());
        }
        drop(sink);
        self.mark_written(upto);
    }

    /// The sink, if it is free within `wait` (at once while the output is stalled).
    fn sink_within(&self, wait: Duration) -> Option<MutexGuard<'_, Box<dyn Write + Send>>> {
        let deadline = Instant::now() + wait;
        loop {
            match self.sink.try_lock() {
                Ok(sink) => return Some(sink),
                Err(TryLockError::Poisoned(poisoned)) => return Some(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => {}
            }
            if self.stalled.load(Ordering::Relaxed) || Instant::now() >= deadline {
                self.stalled.store(true, Ordering::Relaxed);
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The writer thread's turn: waits up to `interval` (less when woken), then writes what
    /// is queued. `spare` is an empty buffer to queue into meanwhile; it comes back empty.
    /// Returns `false` once closed and drained.
    pub(super) fn write_batch(&self, interval: Duration, spare: &mut Vec<u8>) -> bool {
        {
            let state = self.state();
            let (state, _) = self
                .work
                .wait_timeout_while(state, interval, |s| !s.woken && !s.closed)
                .unwrap_or_else(PoisonError::into_inner);
            if state.pending.is_empty() {
                return !state.closed;
            }
        }
        let mut sink = self.sink();
        let (mut batch, upto) = self.take(spare);
        if !batch.is_empty() {
            // A failing sink loses the batch: there is nowhere else to report to.
            let _ = sink.write_all(&batch).and_then(|()| sink.flush());
            batch.clear();
        }
        *spare = batch;
        drop(sink);
        self.stalled.store(false, Ordering::Relaxed);
        self.mark_written(upto);
        true
    }

    /// Swaps the queued lines for `empty`; returns them and the count they reach up to.
    fn take(&self, empty: &mut Vec<u8>) -> (Vec<u8>, u64) {
        let mut state = self.state();
        state.woken = false;
        let batch = std::mem::replace(&mut state.pending, std::mem::take(empty));
        (batch, state.queued)
    }

    fn mark_written(&self, upto: u64) {
        let mut state = self.state();
        state.written = state.written.max(upto);
        if state.waiting > 0 {
            self.written.notify_all();
        }
    }

    /// Waits until every line queued before the call is written, at most `timeout`.
    pub(super) fn flush(&self, timeout: Duration) -> Result<(), FlushTimedOut> {
        let mut state = self.state();
        let target = state.queued;
        if state.written >= target {
            return Ok(());
        }
        state.woken = true;
        state.waiting += 1;
        self.work.notify_one();
        let (mut state, _) = self
            .written
            .wait_timeout_while(state, timeout, |s| s.written < target)
            .unwrap_or_else(PoisonError::into_inner);
        state.waiting -= 1;
        if state.written >= target {
            Ok(())
        } else {
            Err(FlushTimedOut(timeout))
        }
    }

    /// Ends the last hold: from now on lines are written directly, and what is queued is
    /// written at once (after the batch being written, if any).
    pub(super) fn go_direct(&self) {
        self.state().direct = true;
        self.write_through(&[]);
    }

    pub(super) fn close(&self) {
        self.state().closed = true;
        self.work.notify_one();
    }

    pub(super) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
