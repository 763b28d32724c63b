//! Watching the configuration files: polled for their contents.
//!
//! Polling, not filesystem notifications: a Kubernetes ConfigMap changes by swapping a
//! symbolic link over a directory (an inotify watch on the file never fires again), editors
//! save by renaming a new file over the old one, and network and overlay filesystems notify
//! unreliably or not at all. Reading two small files once a second is cheap and sees all of
//! these the same way. A change is acted on once the contents stayed the same for one more
//! poll (a debounce), so that a file written in several steps is read whole. A file that
//! became empty is not acted on (an editor truncating before it writes, a copy cut short):
//! emptying a file on purpose is rare, and applying it would put every key it set back to
//! its default; a signal or `POST /admin/config/reload` reads it as it is.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{ReloadHandle, ReloadTrigger};

/// What a file holds now: the hash of its contents and whether it is empty (nothing but
/// white space), `None` when it cannot be read.
fn fingerprint(path: &PathBuf) -> Option<(u64, bool)> {
    let bytes = std::fs::read(path).ok()?;
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    Some((hasher.finish(), bytes.iter().all(u8::is_ascii_whitespace)))
}

/// Whether a file that had contents when last applied is empty now.
fn emptied(applied: &[Option<(u64, bool)>], now: &[Option<(u64, bool)>]) -> bool {
    applied
        .iter()
        .zip(now)
        .any(|(before, after)| matches!((before, after), (Some((_, false)), Some((_, true)))))
}

/// Polls `files` every `interval` until `stop`, triggering a reload through `handle` when
/// their contents changed and then held for one more poll.
pub(crate) async fn watch_files(
    files: Vec<PathBuf>,
    interval: Duration,
    handle: ReloadHandle,
    stop: CancellationToken,
) {
    let files: std::sync::Arc<[PathBuf]> = files.into();
    // Off the runtime's threads: a network filesystem may take its time.
    let read = || {
        let files = std::sync::Arc::clone(&files);
        async move {
            tokio::task::spawn_blocking(move || files.iter().map(fingerprint).collect::<Vec<_>>())
                .await
                .unwrap_or_default()
        }
    };
    let mut files_state = Debounce::new(read().await);
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match files_state.observe(read().await) {
            Step::Wait => {}
            Step::Apply => handle.trigger(ReloadTrigger::File),
            Step::HoldEmpty => tracing::warn!(
                polls = EMPTY_HOLD_POLLS,
                "a configuration file became empty: applied only if it stays so for this many \
                 more polls (save by renaming a new file over it; a signal or POST \
                 /admin/config/reload applies it at once)"
            ),
        }
    }
}

/// Polls an emptied file must stay empty before it is applied.
const EMPTY_HOLD_POLLS: u32 = 5;

type Prints = Vec<Option<(u64, bool)>>;

/// The debounce of the polled files: what was applied, what was seen last, for how many
/// polls it held.
struct Debounce {
    applied: Prints,
    seen: Prints,
    held: u32,
}

/// What one poll calls for.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Wait,
    Apply,
    /// A file was just emptied: held back for [`EMPTY_HOLD_POLLS`] polls.
    HoldEmpty,
}

impl Debounce {
    fn new(now: Prints) -> Self {
        Self {
            applied: now.clone(),
            seen: now,
            held: 0,
        }
    }

    fn observe(&mut self, now: Prints) -> Step {
        if now != self.seen {
            let first_empty = emptied(&self.applied, &now) && !emptied(&self.applied, &self.seen);
            self.seen = now; // changed since the last look: wait until it holds
            self.held = 0;
            return if first_empty {
                Step::HoldEmpty
            } else {
                Step::Wait
            };
        }
        self.held = self.held.saturating_add(1);
        if now == self.applied || (emptied(&self.applied, &now) && self.held <= EMPTY_HOLD_POLLS) {
            return Step::Wait;
        }
        self.applied = now;
        Step::Apply
    }
}

#[cfg(test)]
mod tests {
    use super::{Debounce, EMPTY_HOLD_POLLS, Step, emptied};

    #[test]
    fn a_file_that_lost_its_contents_is_told_apart() {
        let full = Some((1, false));
        let empty = Some((2, true));
        assert!(emptied(&[full, full], &[full, empty]));
        assert!(!emptied(&[full], &[Some((3, false))]), "a change");
        assert!(!emptied(&[empty], &[empty]), "empty all along");
        assert!(!emptied(&[None], &[empty]), "created empty");
        assert!(!emptied(&[full], &[None]), "removed: the loader decides");
    }

    #[test]
    fn a_change_applies_once_it_held_and_an_emptied_file_only_if_it_stays_empty() {
        let (full, edited, empty) = (Some((1, false)), Some((2, false)), Some((3, true)));
        let mut files = Debounce::new(vec![full]);
        assert_eq!(files.observe(vec![full]), Step::Wait, "nothing changed");
        assert_eq!(
            files.observe(vec![edited]),
            Step::Wait,
            "changed: wait a poll"
        );
        assert_eq!(files.observe(vec![edited]), Step::Apply, "held");
        assert_eq!(files.observe(vec![edited]), Step::Wait, "applied already");

        // Truncated, then written: the empty moment is never applied.
        assert_eq!(files.observe(vec![empty]), Step::HoldEmpty);
        assert_eq!(files.observe(vec![empty]), Step::Wait);
        assert_eq!(files.observe(vec![full]), Step::Wait);
        assert_eq!(files.observe(vec![full]), Step::Apply);

        // Emptied on purpose: applied once it stayed empty long enough.
        assert_eq!(files.observe(vec![empty]), Step::HoldEmpty);
        for _ in 0..EMPTY_HOLD_POLLS {
            assert_eq!(files.observe(vec![empty]), Step::Wait);
        }
        assert_eq!(files.observe(vec![empty]), Step::Apply);
        assert_eq!(files.observe(vec![empty]), Step::Wait);
    }
}
