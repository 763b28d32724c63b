//! Watching a service's directory: list, watch from the listing's revision, resume.

use std::collections::BTreeMap;
use std::time::Duration;

use etcd_client::{EventType, GetOptions, WatchOptions, WatchResponse};

use super::value::{decode, instance_id, service_prefix};
use super::{EtcdDiscovery, EtcdError};
use crate::discovery::endpoints::Publisher;
use crate::discovery::{Endpoint, EndpointSet};

/// Retry delays after consecutive failures: doubling from the first, at most the second.
const RETRY: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

/// What the watcher knows: the instances by id, and the last revision it has seen.
struct View {
    prefix: String,
    instances: BTreeMap<String, Endpoint>,
    /// `None`: the directory must be listed (first run, or the revision was compacted).
    revision: Option<i64>,
}

impl View {
    fn set(&self) -> EndpointSet {
        EndpointSet::new(self.instances.values().cloned())
    }

    /// Applies one key's new value; false when nothing changed.
    fn put(&mut self, key: &[u8], value: &[u8]) -> bool {
        match decode(&self.prefix, key, value) {
            Some(Ok((id, endpoint))) => {
                self.instances.insert(id, endpoint.clone()) != Some(endpoint)
            }
            Some(Err(error)) => {
                tracing::warn!(%error, "discovery: ignoring an etcd entry that is not an instance");
                self.delete(key)
            }
            None => false,
        }
    }

    fn delete(&mut self, key: &[u8]) -> bool {
        instance_id(&self.prefix, key).is_some_and(|id| self.instances.remove(&id).is_some())
    }
}

/// How a watch session ended, other than by an error.
enum End {
    /// The revision to resume from was compacted: list again.
    Compacted,
}

/// Keeps `publisher`'s set current until nobody watches.
pub(super) async fn run(etcd: EtcdDiscovery, publisher: Publisher) {
    let mut view = View {
        prefix: service_prefix(&etcd.config().prefix, publisher.service()),
        instances: BTreeMap::new(),
        revision: None,
    };
    let mut failures = 0;
    loop {
        let mut connected = false;
        let ended = tokio::select! {
            biased;
            () = publisher.closed() => return,
            ended = session(&etcd, &publisher, &mut view, &mut connected) => ended,
        };
        if connected {
            failures = 0;
        }
        match ended {
            Ok(End::Compacted) => {
                tracing::info!(
                    service = publisher.service(),
                    "discovery: etcd compacted past the watch revision; listing again"
                );
                view.revision = None;
            }
            Err(error) => {
                failures += 1;
                publisher.failed(&error);
                let wait = crate::discovery::endpoints::backoff(failures, RETRY.0, RETRY.1);
                tokio::select! {
                    biased;
                    () = publisher.closed() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Lists the directory when needed, then follows the watch until it breaks.
async fn session(
    etcd: &EtcdDiscovery,
    publisher: &Publisher,
    view: &mut View,
    connected: &mut bool,
) -> Result<End, EtcdError> {
    let mut client = etcd.client().await?;
    let start = if let Some(revision) = view.revision {
        revision + 1
    } else {
        let options = GetOptions::new().with_prefix();
        let listing = etcd
            .call(client.get(view.prefix.as_str(), Some(options)))
            .await?;
        let revision = listing
            .header()
            .map_or(0, etcd_client::ResponseHeader::revision);
        view.instances.clear();
        for kv in listing.kvs() {
            view.put(kv.key(), kv.value());
        }
        view.revision = Some(revision);
        publisher.publish(view.set());
        *connected = true;
        revision + 1
    };
    let options = WatchOptions::new()
        .with_prefix()
        .with_start_revision(start)
        .with_progress_notify();
    let mut stream = etcd
        .call(client.watch(view.prefix.as_str(), Some(options)))
        .await?;
    loop {
        let Some(response) = stream.message().await? else {
            return Err(EtcdError::Stream("the watch stream closed"));
        };
        if response.canceled() {
            if response.compact_revision() > 0 {
                return Ok(End::Compacted);
            }
            tracing::debug!(
                reason = response.cancel_reason(),
                "discovery: etcd canceled the watch"
            );
            return Err(EtcdError::Stream("etcd canceled the watch"));
        }
        if response.created() {
            // Resumed (or started): the set is current again.
            *connected = true;
            publisher.publish(view.set());
        }
        if apply(view, &response) {
            publisher.publish(view.set());
        }
    }
}

/// Applies a watch response's events; true when the set changed.
fn apply(view: &mut View, response: &WatchResponse) -> bool {
    let mut changed = false;
    for event in response.events() {
        let Some(kv) = event.kv() else { continue };
        changed |= match event.event_type() {
            EventType::Put => view.put(kv.key(), kv.value()),
            EventType::Delete => view.delete(kv.key()),
        };
        view.revision = Some(view.revision.unwrap_or(0).max(kv.mod_revision()));
    }
    if response.events().is_empty() && !response.created() {
        // A progress notification: every event up to the header's revision was delivered.
        if let Some(header) = response.header() {
            view.revision = Some(view.revision.unwrap_or(0).max(header.revision()));
        }
    }
    changed
}
