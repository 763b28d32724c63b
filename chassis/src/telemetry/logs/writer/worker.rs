//! The writer thread: every interval, one write of everything queued.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::queue::Queue;

/// How often queued lines are written (sooner when a quarter of the queue fills or a flush
/// asks).
pub(super) const INTERVAL: Duration = Duration::from_millis(10);

/// Dropped lines are reported at most this often.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Starts the writer thread; `None` when the system refuses a thread.
pub(super) fn spawn(queue: Arc<Queue>) -> Option<()> {
    std::thread::Builder::new()
        .name("chassis-log-writer".to_owned())
        .spawn(move || run(&queue))
        .ok()
        .map(drop)
}

fn run(queue: &Queue) {
    let mut spare = Vec::new();
    let (mut reported, mut last_report) = (0, Instant::now());
    while queue.write_batch(INTERVAL, &mut spare) {
        let dropped = queue.dropped();
        if dropped > reported && last_report.elapsed() >= REPORT_EVERY {
            // Through the subscriber like any line: it lands in the queue just emptied.
            tracing::warn!(
                dropped_lines = dropped - reported,
                "log lines dropped: the log output is slower than the lines logged"
            );
            (reported, last_report) = (dropped, Instant::now());
        }
    }
}
