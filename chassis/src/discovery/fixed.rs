//! The static backend: endpoints listed in configuration; registration does nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{
    Address, BoxFuture, Discover, DiscoveryError, Endpoint, EndpointSet, Endpoints, Instance,
    Publisher, Register, Registration, StaticEndpoints,
};

/// Endpoints from `discovery.static.<name> = ["host:port", ...]`; they change only when the
/// configuration does ([`update`](Self::update), called by a live configuration change).
///
/// Clones share the lists and the sets handed out.
#[derive(Debug, Clone, Default)]
pub struct StaticDiscovery {
    shared: Arc<Mutex<Lists>>,
}

#[derive(Debug, Default)]
struct Lists {
    services: BTreeMap<String, Vec<Address>>,
    /// The sets handed out, by service: an update publishes to them.
    feeds: BTreeMap<String, (Publisher, Endpoints)>,
}

impl StaticDiscovery {
    /// From the `discovery.static` table.
    ///
    /// # Errors
    ///
    /// [`DiscoveryError::Config`] naming the first entry that is not `host:port`.
    pub fn from_config(table: &BTreeMap<String, StaticEndpoints>) -> Result<Self, DiscoveryError> {
        let lists = Lists {
            services: parse(table)?,
            feeds: BTreeMap::new(),
        };
        Ok(Self {
            shared: Arc::new(Mutex::new(lists)),
        })
    }

    /// Replaces the lists with those of `table`: every set handed out changes to its new
    /// list (an empty one when its service is no longer listed); all or nothing.
    ///
    /// # Errors
    ///
    /// As [`from_config`](Self::from_config); nothing changes then.
    pub fn update(&self, table: &BTreeMap<String, StaticEndpoints>) -> Result<(), DiscoveryError> {
        let services = parse(table)?;
        let mut lists = self.lock();
        for (name, (publisher, _)) in &lists.feeds {
            let list = services.get(name).cloned().unwrap_or_default();
            publisher.publish(EndpointSet::new(list.into_iter().map(Endpoint::new)));
        }
        lists.services = services;
        Ok(())
    }

    /// Adds (or replaces) a service's endpoints.
    #[must_use]
    pub fn with_service(
        self,
        name: impl Into<String>,
        addresses: impl IntoIterator<Item = Address>,
    ) -> Self {
        self.lock()
            .services
            .insert(name.into(), addresses.into_iter().collect());
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lists> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn parse(
    table: &BTreeMap<String, StaticEndpoints>,
) -> Result<BTreeMap<String, Vec<Address>>, DiscoveryError> {
    let mut services = BTreeMap::new();
    for (name, StaticEndpoints(list)) in table {
        let addresses = list
            .iter()
            .map(|text| {
                text.parse().map_err(|e| DiscoveryError::Config {
                    key: format!("static.{name}"),
                    message: format!("{e}"),
                })
            })
            .collect::<Result<Vec<Address>, _>>()?;
        services.insert(name.clone(), addresses);
    }
    Ok(services)
}

impl Discover for StaticDiscovery {
    fn discover(&self, service: &str) -> Result<Endpoints, DiscoveryError> {
        let mut lists = self.lock();
        if let Some((_, endpoints)) = lists.feeds.get(service) {
            return Ok(endpoints.clone());
        }
        let addresses = lists
            .services
            .get(service)
            .ok_or_else(|| DiscoveryError::UnknownService(service.to_owned()))?
            .clone();
        let (publisher, endpoints) = Publisher::channel("static", service);
        publisher.publish(EndpointSet::new(addresses.into_iter().map(Endpoint::new)));
        lists
            .feeds
            .insert(service.to_owned(), (publisher, endpoints.clone()));
        Ok(endpoints)
    }
}

/// Registration that does nothing: for backends whose records the platform manages (static
/// configuration, DNS).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRegistration;

impl Register for NoRegistration {
    fn register(
        &self,
        instance: Instance,
    ) -> BoxFuture<'static, Result<Registration, DiscoveryError>> {
        tracing::debug!(
            service = %instance.name,
            address = %instance.address,
            "discovery: this backend has no registry to write; registration is a no-op"
        );
        Box::pin(async { Ok(Registration::noop()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(&str, &[&str])]) -> BTreeMap<String, StaticEndpoints> {
        entries
            .iter()
            .map(|(name, list)| {
                let list = list.iter().map(|s| (*s).to_owned()).collect();
                ((*name).to_owned(), StaticEndpoints(list))
            })
            .collect()
    }

    #[tokio::test]
    async fn lists_configured_endpoints_and_never_changes() {
        let config = table(&[(
            "catalog",
            &["127.0.0.1:8082", "catalog.internal:80", "127.0.0.1:8081"],
        )]);
        let discovery = StaticDiscovery::from_config(&config).unwrap();
        let mut endpoints = discovery.discover("catalog").unwrap();
        let set = endpoints.ready().await;
        let addrs: Vec<String> = set.iter().map(|e| e.address.to_string()).collect();
        assert_eq!(
            addrs,
            ["127.0.0.1:8081", "127.0.0.1:8082", "catalog.internal:80"]
        );
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(20), endpoints.changed()).await;
        assert!(waited.is_err(), "a static set reported a change or closed");
    }

    #[test]
    fn unknown_services_and_bad_addresses_are_errors() {
        let discovery = StaticDiscovery::from_config(&table(&[])).unwrap();
        assert!(
            matches!(discovery.discover("orders"), Err(DiscoveryError::UnknownService(s)) if s == "orders")
        );
        let err = StaticDiscovery::from_config(&table(&[("orders", &["orders"])])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "discovery.static.orders: invalid address \"orders\": expected host:port"
        );
    }

    #[tokio::test]
    async fn registration_is_a_no_op() {
        let instance = Instance::new(
            "catalog",
            "i-1",
            "1.0.0",
            "127.0.0.1:1".parse::<Address>().unwrap(),
        );
        let registration = NoRegistration.register(instance).await.unwrap();
        assert!(registration.is_registered());
        registration.deregister().await.unwrap();
    }
}
