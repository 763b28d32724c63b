//! The DNS backend: SRV records, else A/AAAA records and a configured port, re-resolved when
//! the TTL lapses (feature `dns`).

mod records;

use std::fmt;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolverConfig,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;

use self::records::{refresh_after, srv_endpoints, srv_records};
use super::config::parse_nameserver;
use super::endpoints::{Publisher, backoff};
use super::error::runtime;
use super::{Discover, DiscoveryError, DnsConfig, Endpoint, EndpointSet, Endpoints};

/// Discovers services in DNS: SRV `_{port_name}._tcp.{name}.{domain}` (every target
/// address at the SRV port) or, when there is no SRV record, the A/AAAA records of
/// `{name}.{domain}` at `discovery.dns.port`. Each set is re-resolved when its TTL lapses
/// (bounded by `min_refresh` / `max_refresh`); a failed lookup keeps the last good set. An
/// authoritative "no such name" publishes an empty set.
///
/// *Available with the cargo feature `dns` (on by default).*
#[derive(Clone)]
pub struct DnsDiscovery {
    resolver: TokioResolver,
    config: DnsConfig,
}

impl fmt::Debug for DnsDiscovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsDiscovery")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl DnsDiscovery {
    /// A resolver for `discovery.dns`: the configured name servers, or the system's.
    ///
    /// # Errors
    ///
    /// [`DiscoveryError::Config`] for a bad name server; [`DiscoveryError::Registry`] when
    /// the system's resolver configuration cannot be read.
    pub fn from_config(config: &DnsConfig) -> Result<Self, DiscoveryError> {
        let mut builder = if config.nameservers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| DiscoveryError::registry("dns", e))?
        } else {
            let mut servers = Vec::new();
            for text in &config.nameservers {
                let addr = parse_nameserver(text).ok_or_else(|| DiscoveryError::Config {
                    key: "dns.nameservers".to_owned(),
                    message: format!("expected ip or ip:port, got {text:?}"),
                })?;
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                servers.push(NameServerConfig::new(addr.ip(), true, vec![udp, tcp]));
            }
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                TokioRuntimeProvider::default(),
            )
        };
        let options = builder.options_mut();
        options.timeout = config.timeout;
        options.attempts = 1;
        options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        let resolver = builder
            .build()
            .map_err(|e| DiscoveryError::registry("dns", e))?;
        Ok(Self {
            resolver,
            config: config.clone(),
        })
    }

    /// The SRV name of `service`.
    fn srv_name(&self, service: &str) -> String {
        self.qualify(&format!("_{}._tcp.{service}", self.config.port_name))
    }

    /// `name.domain.` (absolute) with a domain, else `name` (the search list applies).
    fn qualify(&self, name: &str) -> String {
        match self.config.domain.as_deref().map(|d| d.trim_matches('.')) {
            Some(domain) if !domain.is_empty() => format!("{name}.{domain}."),
            _ => name.to_owned(),
        }
    }

    /// One resolution of `service`.
    async fn resolve(&self, service: &str) -> Result<Answer, LookupError> {
        let srv_name = self.srv_name(service);
        match self.resolver.srv_lookup(srv_name.as_str()).await {
            Ok(lookup) => {
                let srvs = srv_records(lookup.answers());
                let lookups = srvs
                    .iter()
                    .map(|srv| self.resolver.lookup_ip(srv.target.clone()));
                let mut valid_until = lookup.valid_until();
                let mut endpoints = Vec::new();
                for (srv, result) in srvs.iter().zip(join_all(lookups).await) {
                    match result {
                        Ok(ips) => {
                            valid_until = valid_until.min(ips.valid_until());
                            endpoints.extend(srv_endpoints(srv, ips.iter()));
                        }
                        Err(e) if e.is_no_records_found() => {
                            tracing::debug!(target = %srv.target, "discovery: SRV target has no address");
                        }
                        Err(e) => return Err(LookupError::Dns(srv.target.to_string(), e)),
                    }
                }
                Ok(Answer::until(endpoints, valid_until))
            }
            Err(e) if e.is_no_records_found() => self.resolve_hosts(service, &srv_name).await,
            Err(e) => Err(LookupError::Dns(srv_name, e)),
        }
    }

    /// The A/AAAA fallback.
    async fn resolve_hosts(&self, service: &str, srv_name: &str) -> Result<Answer, LookupError> {
        let Some(port) = self.config.port else {
            return Err(LookupError::NoPort(srv_name.to_owned()));
        };
        let host = self.qualify(service);
        match self.resolver.lookup_ip(host.as_str()).await {
            Ok(ips) => {
                let endpoints = ips
                    .iter()
                    .map(|ip| Endpoint::new(std::net::SocketAddr::new(ip, port)));
                Ok(Answer::until(endpoints.collect(), ips.valid_until()))
            }
            Err(e) if e.is_no_records_found() => Ok(Answer {
                endpoints: Vec::new(),
                valid_for: None,
            }),
            Err(e) => Err(LookupError::Dns(host, e)),
        }
    }

    /// Keeps `publisher`'s set current until nobody watches.
    async fn run(self, publisher: Publisher) {
        let (min, max) = (self.config.min_refresh, self.config.max_refresh);
        let mut failures = 0;
        loop {
            let result = tokio::select! {
                biased;
                () = publisher.closed() => return,
                result = self.resolve(publisher.service()) => result,
            };
            let wait = match result {
                Ok(answer) => {
                    failures = 0;
                    publisher.publish(EndpointSet::new(answer.endpoints));
                    refresh_after(answer.valid_for, min, max)
                }
                Err(error) => {
                    failures += 1;
                    publisher.failed(&error);
                    backoff(failures, min, max)
                }
            };
            tokio::select! {
                biased;
                () = publisher.closed() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

impl Discover for DnsDiscovery {
    fn discover(&self, service: &str) -> Result<Endpoints, DiscoveryError> {
        let valid = !service.is_empty()
            && service.len() <= 200
            && service.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err(DiscoveryError::InvalidName(service.to_owned()));
        }
        let handle = runtime()?;
        let (publisher, endpoints) = Publisher::channel("dns", service);
        handle.spawn(self.clone().run(publisher));
        Ok(endpoints)
    }
}

/// One successful resolution.
struct Answer {
    endpoints: Vec<Endpoint>,
    /// How long it may be cached; `None` when the answer did not say.
    valid_for: Option<Duration>,
}

impl Answer {
    fn until(endpoints: Vec<Endpoint>, valid_until: Instant) -> Self {
        Self {
            endpoints,
            valid_for: Some(valid_until.saturating_duration_since(Instant::now())),
        }
    }
}

/// Why a resolution failed.
#[derive(Debug, thiserror::Error)]
enum LookupError {
    #[error("looking up {0} failed: {1}")]
    Dns(String, #[source] NetError),
    #[error("no SRV record at {0} and discovery.dns.port is unset for the A/AAAA fallback")]
    NoPort(String),
}
