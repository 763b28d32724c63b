//! [`Endpoint`], [`EndpointSet`] and [`EndpointChange`]: what discovery answers.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::Address;

/// One instance of a service, as a registry describes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Endpoint {
    /// Where it listens; the key of the endpoint within its set.
    pub address: Address,
    /// The instance id, when the registry knows it (etcd does, DNS and static do not).
    pub instance_id: Option<String>,
    /// The service version it runs, when known.
    pub version: Option<String>,
    /// Free-form metadata (etcd: what the instance registered; DNS: SRV `priority` and
    /// `weight`).
    pub metadata: BTreeMap<String, String>,
}

impl Endpoint {
    /// An endpoint with only an address.
    pub fn new(address: impl Into<Address>) -> Self {
        Self {
            address: address.into(),
            instance_id: None,
            version: None,
            metadata: BTreeMap::new(),
        }
    }

    /// Sets the instance id.
    #[must_use]
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.instance_id = Some(id.into());
        self
    }

    /// Sets the version.
    #[must_use]
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Adds one metadata entry.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// An immutable set of endpoints, sorted and unique by address; cheap to clone.
///
/// A set is *resolved* once its backend has answered; before that it is empty and
/// [`is_resolved`](Self::is_resolved) is false, so "no answer yet" and "no instances" can be
/// told apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointSet {
    endpoints: Arc<[Endpoint]>,
    resolved: bool,
}

impl EndpointSet {
    /// A resolved set; of endpoints with the same address the first one is kept.
    pub fn new(endpoints: impl IntoIterator<Item = Endpoint>) -> Self {
        let mut endpoints: Vec<Endpoint> = endpoints.into_iter().collect();
        endpoints.sort_by(|a, b| a.address.cmp(&b.address));
        endpoints.dedup_by(|later, first| later.address == first.address);
        Self {
            endpoints: endpoints.into(),
            resolved: true,
        }
    }

    /// The empty set published before the backend first answered.
    pub fn unresolved() -> Self {
        Self::default()
    }

    /// Whether the backend has answered at least once.
    pub fn is_resolved(&self) -> bool {
        self.resolved
    }

    /// The endpoints, sorted by address.
    pub fn as_slice(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Iterates over the endpoints, sorted by address.
    pub fn iter(&self) -> std::slice::Iter<'_, Endpoint> {
        self.endpoints.iter()
    }

    /// The number of endpoints.
    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// The endpoint at `address`.
    pub fn get(&self, address: &Address) -> Option<&Endpoint> {
        self.endpoints
            .binary_search_by(|e| e.address.cmp(address))
            .ok()
            .map(|i| &self.endpoints[i])
    }

    /// The changes that turn `self` into `newer`: an insert for each new or changed
    /// endpoint (a changed one replaces the old one at the same address), a remove for each
    /// address that is gone. Ordered by address.
    pub fn diff(&self, newer: &EndpointSet) -> Vec<EndpointChange> {
        let (mut old, mut new) = (self.iter().peekable(), newer.iter().peekable());
        let mut changes = Vec::new();
        loop {
            let order = match (old.peek(), new.peek()) {
                (None, None) => return changes,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(a), Some(b)) => a.address.cmp(&b.address),
            };
            match order {
                Ordering::Less => {
                    let gone = old.next().map(|e| e.address.clone());
                    changes.extend(gone.map(EndpointChange::Remove));
                }
                Ordering::Greater => {
                    changes.extend(new.next().cloned().map(EndpointChange::Insert));
                }
                Ordering::Equal => {
                    let (a, b) = (old.next(), new.next());
                    if a != b {
                        changes.extend(b.cloned().map(EndpointChange::Insert));
                    }
                }
            }
        }
    }
}

impl<'a> IntoIterator for &'a EndpointSet {
    type Item = &'a Endpoint;
    type IntoIter = std::slice::Iter<'a, Endpoint>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// One change to a set of endpoints, keyed by address (the shape of
/// `tower::discover::Change`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointChange {
    /// A new endpoint, or a new description of the one at the same address.
    Insert(Endpoint),
    /// The endpoint at this address is gone.
    Remove(Address),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(addr: &str) -> Endpoint {
        Endpoint::new(addr.parse::<Address>().unwrap())
    }

    #[test]
    fn sets_sort_and_deduplicate_by_address() {
        let set = EndpointSet::new([
            at("10.0.0.2:80").version("b"),
            at("10.0.0.1:80"),
            at("10.0.0.2:80"),
        ]);
        let addrs: Vec<String> = set.iter().map(|e| e.address.to_string()).collect();
        assert_eq!(addrs, ["10.0.0.1:80", "10.0.0.2:80"]);
        assert_eq!(
            set.get(&"10.0.0.2:80".parse().unwrap())
                .unwrap()
                .version
                .as_deref(),
            Some("b")
        );
        assert!(set.is_resolved());
        assert!(!EndpointSet::unresolved().is_resolved());
    }

    #[test]
    fn diff_inserts_new_and_changed_and_removes_gone() {
        let old = EndpointSet::new([at("10.0.0.1:80"), at("10.0.0.2:80"), at("10.0.0.4:80")]);
        let new = EndpointSet::new([
            at("10.0.0.2:80").version("2"),
            at("10.0.0.3:80"),
            at("10.0.0.4:80"),
        ]);
        assert_eq!(
            old.diff(&new),
            [
                EndpointChange::Remove("10.0.0.1:80".parse().unwrap()),
                EndpointChange::Insert(at("10.0.0.2:80").version("2")),
                EndpointChange::Insert(at("10.0.0.3:80")),
            ]
        );
        assert!(new.diff(&new).is_empty());
        assert_eq!(EndpointSet::default().diff(&old).len(), 3);
    }
}
