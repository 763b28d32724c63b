//! [`Endpoints`]: the live, watchable set of one service's endpoints, and the publishing
//! side the backends use.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::watch;

use super::{Endpoint, EndpointChange, EndpointSet};

/// The live set of endpoints of one service: a `tokio::sync::watch` of [`EndpointSet`] fed
/// by a backend task, plus the health of that feed.
///
/// Cheap to clone; every clone sees the same set. The backend keeps watching while any
/// clone (or any receiver from [`watch`](Self::watch)) is alive, and stops when the last one
/// is dropped. When the registry cannot be reached the set is left as it was: the last good
/// set stays, and [`status`](Self::status) counts the failures.
///
/// ```
/// use chassis::discovery::{Endpoint, EndpointChange, Endpoints};
/// use futures_util::StreamExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let endpoints = Endpoints::fixed("catalog", [Endpoint::new("127.0.0.1:8081".parse::<std::net::SocketAddr>().unwrap())]);
/// assert_eq!(endpoints.current().len(), 1);
///
/// // What a balancer consumes: the current set as inserts, then every change.
/// let mut changes = Box::pin(endpoints.changes());
/// assert!(matches!(changes.next().await, Some(EndpointChange::Insert(_))));
/// # }
/// ```
#[derive(Clone)]
pub struct Endpoints {
    service: Arc<str>,
    set: watch::Receiver<EndpointSet>,
    status: watch::Receiver<SourceStatus>,
    /// For a fixed set: keeps the channel open so that waiting for a change waits forever.
    _fixed: Option<Arc<watch::Sender<EndpointSet>>>,
}

impl fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoints")
            .field("service", &self.service)
            .field("set", &*self.set.borrow())
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

/// How the feed of a set is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceStatus {
    /// Failed lookups (or broken watches) since the last success; `0` when healthy.
    pub consecutive_failures: u32,
    /// Failed lookups since the start.
    pub total_failures: u64,
    /// The last failure, as text.
    pub last_error: Option<String>,
}

impl Endpoints {
    /// A set that never changes (the static backend; tests).
    pub fn fixed(service: &str, endpoints: impl IntoIterator<Item = Endpoint>) -> Self {
        let (tx, set) = watch::channel(EndpointSet::new(endpoints));
        let (_, status) = watch::channel(SourceStatus::default());
        Self {
            service: service.into(),
            set,
            status,
            _fixed: Some(Arc::new(tx)),
        }
    }

    /// The service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The set as it is now.
    pub fn current(&self) -> EndpointSet {
        self.set.borrow().clone()
    }

    /// The health of the feed.
    pub fn status(&self) -> SourceStatus {
        self.status.borrow().clone()
    }

    /// Waits until the backend has answered once (see [`EndpointSet::is_resolved`]) and
    /// returns the set; at once when it already has.
    pub async fn ready(&mut self) -> EndpointSet {
        let resolved = self
            .set
            .wait_for(EndpointSet::is_resolved)
            .await
            .map(|set| set.clone());
        resolved.unwrap_or_else(|_| self.current())
    }

    /// Waits for the set to change (relative to what this handle last saw) and returns the
    /// new set; `None` when the feed has stopped.
    pub async fn changed(&mut self) -> Option<EndpointSet> {
        self.set.changed().await.ok()?;
        Some(self.set.borrow_and_update().clone())
    }

    /// A plain `watch::Receiver` of the set, for code that wants the channel itself.
    pub fn watch(&self) -> watch::Receiver<EndpointSet> {
        self.set.clone()
    }

    /// The set as a stream of changes: first an insert for every current endpoint, then the
    /// difference at each change (see [`EndpointSet::diff`]). It ends only when the feed
    /// stops; turn its items into `tower::discover::Change`s to drive a balancer.
    pub fn changes(self) -> impl Stream<Item = EndpointChange> + Send + 'static {
        let state = (
            self,
            EndpointSet::default(),
            std::collections::VecDeque::new(),
        );
        futures_util::stream::unfold(state, |(mut this, mut seen, mut pending)| async move {
            loop {
                if let Some(change) = pending.pop_front() {
                    return Some((change, (this, seen, pending)));
                }
                let now = this.set.borrow_and_update().clone();
                pending.extend(seen.diff(&now));
                seen = now;
                if pending.is_empty() {
                    this.set.changed().await.ok()?;
                }
            }
        })
    }
}

/// The feeding side of an [`Endpoints`]: what a [`Discover`](super::Discover) backend (or a
/// test standing in for one) uses to publish sets and report failures.
///
/// ```
/// use chassis::discovery::{Endpoint, EndpointSet, Publisher};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (publisher, mut endpoints) = Publisher::channel("test", "orders");
/// assert!(!endpoints.current().is_resolved());
/// publisher.publish(EndpointSet::new([Endpoint::new("10.0.0.1:80".parse::<std::net::SocketAddr>().unwrap())]));
/// assert_eq!(endpoints.ready().await.len(), 1);
///
/// publisher.failed(&"registry unreachable"); // the set stays
/// assert_eq!(endpoints.current().len(), 1);
/// assert_eq!(endpoints.status().consecutive_failures, 1);
/// # }
/// ```
pub struct Publisher {
    backend: &'static str,
    service: Arc<str>,
    set: watch::Sender<EndpointSet>,
    status: watch::Sender<SourceStatus>,
}

impl fmt::Debug for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("backend", &self.backend)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher and the handle it feeds, starting unresolved. `backend` labels the
    /// `chassis_discovery_errors_total` and `chassis_discovery_endpoints` metrics.
    pub fn channel(backend: &'static str, service: &str) -> (Self, Endpoints) {
        let service: Arc<str> = service.into();
        let (set_tx, set) = watch::channel(EndpointSet::unresolved());
        let (status_tx, status) = watch::channel(SourceStatus::default());
        let publisher = Self {
            backend,
            service: service.clone(),
            set: set_tx,
            status: status_tx,
        };
        let endpoints = Endpoints {
            service,
            set,
            status,
            _fixed: None,
        };
        (publisher, endpoints)
    }

    /// The service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Publishes `set` when it differs from the current one, and marks the feed healthy.
    pub fn publish(&self, set: EndpointSet) {
        let service = &*self.service;
        let count = set.len();
        let changed = self.set.send_if_modified(|current| {
            if *current == set {
                return false;
            }
            *current = set;
            true
        });
        if changed {
            tracing::debug!(
                backend = self.backend,
                service,
                endpoints = count,
                "discovery: set changed"
            );
            #[allow(clippy::cast_precision_loss)] // an endpoint count fits an f64
            metrics::gauge!("chassis_discovery_endpoints", "backend" => self.backend, "service" => service.to_owned())
                .set(count as f64);
        }
        self.status.send_if_modified(|status| {
            if status.consecutive_failures == 0 {
                return false;
            }
            tracing::info!(
                backend = self.backend,
                service,
                "discovery: registry reachable again"
            );
            status.consecutive_failures = 0;
            true
        });
    }

    /// Records a failure: counts `chassis_discovery_errors_total{backend}`, logs a warning
    /// (the first of a streak; later ones at debug), and leaves the set as it is.
    pub fn failed(&self, error: &dyn fmt::Display) {
        metrics::counter!("chassis_discovery_errors_total", "backend" => self.backend).increment(1);
        let service = &*self.service;
        self.status.send_modify(|status| {
            if status.consecutive_failures == 0 {
                tracing::warn!(
                    backend = self.backend,
                    service,
                    %error,
                    endpoints = self.set.borrow().len(),
                    "discovery: lookup failed; keeping the last good set"
                );
            } else {
                tracing::debug!(backend = self.backend, service, %error, "discovery: lookup failed again");
            }
            status.consecutive_failures = status.consecutive_failures.saturating_add(1);
            status.total_failures += 1;
            status.last_error = Some(error.to_string());
        });
    }

    /// Resolves when every [`Endpoints`] handle and receiver is gone: the backend may stop.
    pub async fn closed(&self) {
        self.set.closed().await;
    }
}

#[cfg_attr(not(any(feature = "dns", feature = "etcd")), allow(dead_code))]
/// How long to wait after the `failures`-th failure in a row: doubling from `min`, at most
/// `max`.
pub(crate) fn backoff(failures: u32, min: Duration, max: Duration) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    min.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;
    use crate::discovery::Address;

    #[test]
    fn failures_back_off_exponentially_up_to_the_maximum() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(30));
        let waits: Vec<u64> = (1..=7).map(|n| backoff(n, min, max).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff(u32::MAX, min, max), max);
    }

    fn at(addr: &str) -> Endpoint {
        Endpoint::new(addr.parse::<Address>().unwrap())
    }

    #[tokio::test]
    async fn publishing_feeds_the_watch_and_the_change_stream() {
        let (publisher, mut endpoints) = Publisher::channel("test", "orders");
        assert!(!endpoints.current().is_resolved());
        let mut changes = Box::pin(endpoints.clone().changes());

        publisher.publish(EndpointSet::new([at("10.0.0.1:80"), at("10.0.0.2:80")]));
        assert_eq!(endpoints.ready().await.len(), 2);
        assert_eq!(
            changes.next().await,
            Some(EndpointChange::Insert(at("10.0.0.1:80")))
        );
        assert_eq!(
            changes.next().await,
            Some(EndpointChange::Insert(at("10.0.0.2:80")))
        );

        publisher.failed(&"timed out");
        publisher.failed(&"timed out");
        assert_eq!(
            endpoints.current().len(),
            2,
            "a failure keeps the last good set"
        );
        assert_eq!(endpoints.status().consecutive_failures, 2);
        assert_eq!(endpoints.status().last_error.as_deref(), Some("timed out"));

        publisher.publish(EndpointSet::new([at("10.0.0.2:80")]));
        assert_eq!(endpoints.status().consecutive_failures, 0);
        assert_eq!(endpoints.status().total_failures, 2);
        assert_eq!(
            changes.next().await,
            Some(EndpointChange::Remove("10.0.0.1:80".parse().unwrap()))
        );

        assert_eq!(endpoints.changed().await.map(|set| set.len()), Some(1));
        drop(publisher);
        assert_eq!(endpoints.changed().await, None);
        assert_eq!(changes.next().await, None);
    }

    #[tokio::test]
    async fn the_feed_learns_when_nobody_watches() {
        let (publisher, endpoints) = Publisher::channel("test", "orders");
        let copy = endpoints.clone();
        drop(endpoints);
        assert!(
            tokio::time::timeout(Duration::from_millis(10), publisher.closed())
                .await
                .is_err()
        );
        drop(copy);
        publisher.closed().await;
    }
}
