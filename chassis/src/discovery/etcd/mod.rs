//! The etcd backend: instances under `{prefix}/{name}/{instance_id}` on a lease with
//! keep-alive; services watched from the revision of a full listing (feature `etcd`).

mod register;
mod value;
mod watch;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions};
use tokio::sync::OnceCell;

use super::error::runtime;
use super::{
    BoxFuture, Discover, DiscoveryError, Endpoints, EtcdConfig, Instance, Register, Registration,
};
use crate::config::redact::redact_url;
use crate::discovery::endpoints::Publisher;

/// Discovery and registration through an etcd v3 cluster.
///
/// - **Register**: a lease of `lease_ttl` is granted, the instance's JSON is put under
///   `{prefix}/{name}/{instance_id}` on that lease, and the lease is kept alive every third
///   of its TTL. When the keep-alive breaks (etcd restarted, network), the instance
///   registers again on a new lease as soon as etcd answers. Deregistering revokes the
///   lease, which deletes the key at once; a crashed instance's key goes when its lease
///   expires.
/// - **Discover**: the service's directory is listed, then watched from the revision of the
///   listing. A broken watch resumes from the last revision seen; when that revision was
///   compacted meanwhile, the directory is listed again. While etcd is unreachable the
///   last good set stays.
///
/// Nothing is contacted before the first `discover` or `register`; the client connects
/// lazily and reconnects on its own.
///
/// *Available with the cargo feature `etcd`.*
#[derive(Clone)]
pub struct EtcdDiscovery {
    shared: Arc<Shared>,
}

struct Shared {
    config: EtcdConfig,
    client: OnceCell<Client>,
}

/// Shows the endpoints without the credentials a URL may carry (`http://***@etcd:2379`).
impl fmt::Debug for EtcdDiscovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = self.config();
        let endpoints: Vec<_> = config.endpoints.iter().map(|e| redact_url(e)).collect();
        f.debug_struct("EtcdDiscovery")
            .field("endpoints", &endpoints)
            .field("prefix", &config.prefix)
            .field("lease_ttl", &config.lease_ttl)
            .finish_non_exhaustive()
    }
}

impl EtcdDiscovery {
    /// A backend for `discovery.etcd`; connects on first use.
    ///
    /// # Errors
    ///
    /// [`DiscoveryError::Config`] when there is no endpoint, an endpoint is not an `http`
    /// URL (TLS to etcd is not supported yet) or the lease TTL is below etcd's 2 s minimum.
    pub fn from_config(config: &EtcdConfig) -> Result<Self, DiscoveryError> {
        let bad = |key: &str, message: String| DiscoveryError::Config {
            key: format!("etcd.{key}"),
            message,
        };
        if config.endpoints.is_empty() {
            return Err(bad("endpoints", "expected at least one URL".to_owned()));
        }
        for endpoint in &config.endpoints {
            // Named in the error without its credentials.
            let shown = redact_url(endpoint);
            let uri: http::Uri = endpoint
                .parse()
                .map_err(|e| bad("endpoints", format!("{shown:?}: {e}")))?;
            if uri.scheme_str().is_some_and(|s| s != "http") {
                return Err(bad(
                    "endpoints",
                    format!("{shown:?}: only http:// is supported"),
                ));
            }
        }
        if config.lease_ttl < Duration::from_secs(2) {
            return Err(bad(
                "lease_ttl",
                "expected at least 2s (etcd's minimum lease)".to_owned(),
            ));
        }
        Ok(Self {
            shared: Arc::new(Shared {
                config: config.clone(),
                client: OnceCell::new(),
            }),
        })
    }

    fn config(&self) -> &EtcdConfig {
        &self.shared.config
    }

    /// The shared client (a lazy, self-reconnecting gRPC channel).
    async fn client(&self) -> Result<Client, EtcdError> {
        let config = self.config();
        let options = ConnectOptions::new()
            .with_connect_timeout(config.connect_timeout)
            .with_keep_alive(Duration::from_secs(5), config.request_timeout)
            .with_keep_alive_while_idle(true);
        let client = self
            .shared
            .client
            .get_or_try_init(|| Client::connect(&config.endpoints, Some(options)))
            .await?;
        Ok(client.clone())
    }

    /// Runs one etcd request, bounded by `request_timeout`.
    async fn call<T>(
        &self,
        request: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, EtcdError> {
        let limit = self.config().request_timeout;
        match tokio::time::timeout(limit, request).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(EtcdError::Timeout(limit)),
        }
    }
}

impl Discover for EtcdDiscovery {
    fn discover(&self, service: &str) -> Result<Endpoints, DiscoveryError> {
        if !value::is_segment(service) {
            return Err(DiscoveryError::InvalidName(service.to_owned()));
        }
        let handle = runtime()?;
        let (publisher, endpoints) = Publisher::channel("etcd", service);
        handle.spawn(watch::run(self.clone(), publisher));
        Ok(endpoints)
    }
}

impl Register for EtcdDiscovery {
    fn register(
        &self,
        instance: Instance,
    ) -> BoxFuture<'static, Result<Registration, DiscoveryError>> {
        Box::pin(register::register(self.clone(), instance))
    }
}

/// Why an etcd request failed.
#[derive(Debug, thiserror::Error)]
enum EtcdError {
    #[error(transparent)]
    Client(#[from] etcd_client::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Stream(&'static str),
}
