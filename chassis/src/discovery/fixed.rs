//! The static backend: endpoints listed in configuration; registration does nothing.

use std::collections::BTreeMap;

use super::{
    Address, BoxFuture, Discover, DiscoveryError, Endpoint, Endpoints, Instance, Register,
    Registration, StaticEndpoints,
};

/// Endpoints from `discovery.static.<name> = ["host:port", ...]`; they never change.
#[derive(Debug, Clone, Default)]
pub struct StaticDiscovery {
    services: BTreeMap<String, Vec<Address>>,
}

impl StaticDiscovery {
    /// From the `discovery.static` table.
    ///
    /// # Errors
    ///
    /// [`DiscoveryError::Config`] naming the first entry that is not `host:port`.
    pub fn from_config(table: &BTreeMap<String, StaticEndpoints>) -> Result<Self, DiscoveryError> {
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
        Ok(Self { services })
    }

    /// Adds (or replaces) a service's endpoints.
    #[must_use]
    pub fn with_service(
        mut self,
        name: impl Into<String>,
        addresses: impl IntoIterator<Item = Address>,
    ) -> Self {
        self.services
            .insert(name.into(), addresses.into_iter().collect());
        self
    }
}

impl Discover for StaticDiscovery {
    fn discover(&self, service: &str) -> Result<Endpoints, DiscoveryError> {
        let addresses = self
            .services
            .get(service)
            .ok_or_else(|| DiscoveryError::UnknownService(service.to_owned()))?;
        Ok(Endpoints::fixed(
            service,
            addresses.iter().cloned().map(Endpoint::new),
        ))
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
