//! Watching the configuration files: polled for their contents.
//!
//! Polling, not filesystem notifications: a Kubernetes ConfigMap changes by swapping a
//! symbolic link over a directory (an inotify watch on the file never fires again), editors
//! save by renaming a new file over the old one, and network and overlay filesystems notify
//! unreliably or not at all. Reading two small files once a second is cheap and sees all of
//! these the same way. A change is acted on once the contents stayed the same for one more
//! poll (a debounce), so that a file written in several steps is read whole.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{ReloadHandle, ReloadTrigger};

/// What a file holds now: the hash of its contents, `None` when it cannot be read.
fn fingerprint(path: &PathBuf) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    Some(hasher.finish())
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
            seen = now; // changed since the last look: wait until it holds
        } else if now != applied {
            applied = now;
            handle.trigger(ReloadTrigger::File);
        }
    }
}
