//! [`Registry`]: the configured backend behind one handle.

use std::sync::Arc;

use super::{
    BoxFuture, Discover, DiscoveryBackend, DiscoveryConfig, DiscoveryError, Endpoints, Instance,
    NoRegistration, Register, Registration, StaticDiscovery,
};

/// The configured discovery backend: [`Discover`] and [`Register`] behind one cheap, clonable
/// handle. What the service runtime and the HTTP client use.
#[derive(Debug, Clone)]
pub struct Registry {
    backend: &'static str,
    discover: Arc<dyn Discover>,
    register: Arc<dyn Register>,
    /// The static backend, whose lists a live configuration change replaces.
    statics: Option<StaticDiscovery>,
}

impl Registry {
    /// The backend `config.backend` names, configured from `config`. Nothing is contacted
    /// yet; call it inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`DiscoveryError::Config`] for the first invalid key (see
    /// [`DiscoveryConfig::problems`]); [`DiscoveryError::FeatureDisabled`] when the backend
    /// was compiled out; [`DiscoveryError::Registry`] when its client cannot be built.
    pub fn from_config(config: &DiscoveryConfig) -> Result<Self, DiscoveryError> {
        if let Some((key, message)) = config.problems().into_iter().next() {
            return Err(DiscoveryError::Config { key, message });
        }
        match config.backend {
            DiscoveryBackend::Static => {
                let statics = StaticDiscovery::from_config(&config.static_endpoints)?;
                Ok(Self {
                    statics: Some(statics.clone()),
                    ..Self::new("static", statics, NoRegistration)
                })
            }
            #[cfg(feature = "dns")]
            DiscoveryBackend::Dns => Ok(Self::new(
                "dns",
                super::DnsDiscovery::from_config(&config.dns)?,
                NoRegistration,
            )),
            #[cfg(feature = "etcd")]
            DiscoveryBackend::Etcd => {
                let etcd = Arc::new(super::EtcdDiscovery::from_config(&config.etcd)?);
                Ok(Self {
                    backend: "etcd",
                    discover: etcd.clone(),
                    register: etcd,
                    statics: None,
                })
            }
            #[allow(unreachable_patterns)] // when every backend is compiled in
            backend => Err(DiscoveryError::FeatureDisabled {
                backend: backend.as_str(),
                feature: backend.as_str(),
            }),
        }
    }

    /// A registry from any pair of implementations (custom backends, tests).
    pub fn new(backend: &'static str, discover: impl Discover, register: impl Register) -> Self {
        Self {
            backend,
            discover: Arc::new(discover),
            register: Arc::new(register),
            statics: None,
        }
    }

    /// The static backend, when it is the configured one (its lists change live with
    /// [`StaticDiscovery::update`]).
    pub fn static_discovery(&self) -> Option<&StaticDiscovery> {
        self.statics.as_ref()
    }

    /// The backend's name: `static`, `dns`, `etcd` or a custom one.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Starts watching `service` (see [`Discover::discover`]).
    ///
    /// # Errors
    ///
    /// As the backend's [`Discover::discover`].
    pub fn discover(&self, service: &str) -> Result<Endpoints, DiscoveryError> {
        self.discover.discover(service)
    }

    /// Registers this instance and keeps it registered until the returned handle is
    /// deregistered or dropped (see [`Register::register`]).
    ///
    /// # Errors
    ///
    /// As the backend's [`Register::register`].
    pub async fn register(&self, instance: Instance) -> Result<Registration, DiscoveryError> {
        self.register.register(instance).await
    }
}

impl Discover for Registry {
    fn discover(&self, service: &str) -> Result<Endpoints, DiscoveryError> {
        self.discover.discover(service)
    }
}

impl Register for Registry {
    fn register(
        &self,
        instance: Instance,
    ) -> BoxFuture<'static, Result<Registration, DiscoveryError>> {
        self.register.register(instance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::StaticEndpoints;

    #[tokio::test]
    async fn static_is_the_default_backend() {
        let mut config = DiscoveryConfig::default();
        config.static_endpoints.insert(
            "catalog".to_owned(),
            StaticEndpoints(vec!["127.0.0.1:8081".to_owned()]),
        );
        let registry = Registry::from_config(&config).unwrap();
        assert_eq!(registry.backend(), "static");
        assert_eq!(registry.discover("catalog").unwrap().current().len(), 1);
    }

    #[test]
    fn invalid_config_is_refused_with_its_key() {
        let config = DiscoveryConfig {
            advertise: Some("not an address".to_owned()),
            ..DiscoveryConfig::default()
        };
        let err = Registry::from_config(&config).unwrap_err();
        assert_eq!(
            err.to_string(),
            "discovery.advertise: expected host:port or host"
        );
    }

    #[cfg(not(feature = "etcd"))]
    #[test]
    fn a_compiled_out_backend_names_its_feature() {
        let config = DiscoveryConfig {
            backend: DiscoveryBackend::Etcd,
            ..DiscoveryConfig::default()
        };
        let err = Registry::from_config(&config).unwrap_err();
        assert_eq!(
            err.to_string(),
            "discovery backend etcd needs the cargo feature etcd of chassis"
        );
    }
}
