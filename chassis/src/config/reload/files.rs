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
    let mut applied = read().await;
    let mut seen = applied.clone();
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let now = read().await;
        if now != seen {
            if emptied(&applied, &now) && !emptied(&applied, &seen) {
                tracing::warn!(
                    "a configuration file became empty: not applied (save by renaming a new \
                     file over it; a signal or POST /admin/config/reload applies it as it is)"
                );
            }
            seen = now; // changed since the last look: wait until it holds
        } else if now != applied && !emptied(&applied, &now) {
            applied = now;
            handle.trigger(ReloadTrigger::File);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::emptied;

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
}
