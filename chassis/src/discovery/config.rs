//! The `discovery` configuration section.
//!
//! Plain data, validated once by [`DiscoveryConfig::problems`] (and again by
//! [`Registry::from_config`](super::Registry::from_config), which refuses a bad section).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Address, DiscoveryError};

/// `discovery`: how this service finds others and registers itself.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// Which registry to use.
    pub backend: DiscoveryBackend,
    /// The address others should use to reach this instance, `host:port` or just `host`
    /// (then the bound port is used). Default: the bound address.
    pub advertise: Option<String>,
    /// Free-form metadata registered with this instance (`discovery.metadata.zone = "eu-1"`).
    pub metadata: BTreeMap<String, String>,
    /// For the static backend: service name to `host:port` endpoints.
    #[serde(rename = "static")]
    pub static_endpoints: BTreeMap<String, StaticEndpoints>,
    /// For the DNS backend.
    pub dns: DnsConfig,
    /// For the etcd backend.
    pub etcd: EtcdConfig,
}

/// A list of `host:port` endpoints, from a list or a comma-separated string.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct StaticEndpoints(
    #[serde(deserialize_with = "crate::config::list::deserialize")] pub Vec<String>,
);

/// The discovery backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscoveryBackend {
    /// Endpoints listed in configuration.
    #[default]
    Static,
    /// DNS SRV or A/AAAA records.
    Dns,
    /// An etcd cluster.
    Etcd,
}

impl DiscoveryBackend {
    /// The lower-case name, as in configuration and in the `backend` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Static => "static",
            Self::Dns => "dns",
            Self::Etcd => "etcd",
        }
    }
}

/// `discovery.dns`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsConfig {
    /// Domain appended to service names (`_http._tcp.{name}.{domain}`); unset: the
    /// resolver's search list applies.
    pub domain: Option<String>,
    /// Port used with A/AAAA records when there is no SRV record.
    pub port: Option<u16>,
    /// The SRV port name: `_{port_name}._tcp.{name}.{domain}` (a Kubernetes named port).
    pub port_name: String,
    /// Name servers as `ip` or `ip:port`; empty: the system's (`/etc/resolv.conf`).
    #[serde(deserialize_with = "crate::config::list::deserialize")]
    pub nameservers: Vec<String>,
    /// Re-resolve no sooner than this after an answer, whatever its TTL.
    #[serde(with = "crate::config::duration")]
    pub min_refresh: Duration,
    /// Re-resolve at least this often, whatever the TTL.
    #[serde(with = "crate::config::duration")]
    pub max_refresh: Duration,
    /// Bound on one query.
    #[serde(with = "crate::config::duration")]
    pub timeout: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            domain: None,
            port: None,
            port_name: "http".to_owned(),
            nameservers: Vec::new(),
            min_refresh: Duration::from_secs(1),
            max_refresh: Duration::from_secs(30),
            timeout: Duration::from_secs(2),
        }
    }
}

/// `discovery.etcd`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EtcdConfig {
    /// Client endpoints of the etcd cluster.
    #[serde(deserialize_with = "crate::config::list::deserialize")]
    pub endpoints: Vec<String>,
    /// Time-to-live of this instance's lease; kept alive while the instance runs.
    #[serde(with = "crate::config::duration")]
    pub lease_ttl: Duration,
    /// Key prefix: instances live under `{prefix}/{name}/{instance_id}`.
    pub prefix: String,
    /// Bound on establishing a connection to etcd.
    #[serde(with = "crate::config::duration")]
    pub connect_timeout: Duration,
    /// Bound on one request (get, put, grant, revoke).
    #[serde(with = "crate::config::duration")]
    pub request_timeout: Duration,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        Self {
            endpoints: vec!["http://127.0.0.1:2379".to_owned()],
            lease_ttl: Duration::from_secs(10),
            prefix: "/services".to_owned(),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
        }
    }
}

impl DiscoveryConfig {
    /// Every problem of this section as `(dotted key, what was expected)`, keys relative to
    /// `discovery`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut bad =
            |key: &str, message: &str| problems.push((key.to_owned(), message.to_owned()));
        if let Some(advertise) = &self.advertise
            && parse_advertise(advertise, 1).is_err()
        {
            bad("advertise", "expected host:port or host");
        }
        for (name, StaticEndpoints(list)) in &self.static_endpoints {
            if list.iter().any(|e| e.parse::<Address>().is_err()) {
                bad(&format!("static.{name}"), "expected a list of host:port");
            }
        }
        let dns = &self.dns;
        if dns.min_refresh.is_zero() || dns.min_refresh > dns.max_refresh {
            bad(
                "dns.min_refresh",
                "expected a duration above zero, at most dns.max_refresh",
            );
        }
        if dns.timeout.is_zero() {
            bad("dns.timeout", "expected a duration above zero");
        }
        if dns
            .nameservers
            .iter()
            .any(|s| parse_nameserver(s).is_none())
        {
            bad("dns.nameservers", "expected a list of ip or ip:port");
        }
        let etcd = &self.etcd;
        if self.backend == DiscoveryBackend::Etcd && etcd.endpoints.is_empty() {
            bad("etcd.endpoints", "expected at least one URL");
        }
        if etcd
            .endpoints
            .iter()
            .any(|e| e.parse::<http::Uri>().is_err())
        {
            bad(
                "etcd.endpoints",
                "expected a list of URLs such as http://127.0.0.1:2379",
            );
        }
        if etcd.lease_ttl < Duration::from_secs(2) {
            bad(
                "etcd.lease_ttl",
                "expected at least 2s (etcd's minimum lease)",
            );
        }
        if !etcd.prefix.starts_with('/') || etcd.prefix.len() > 1 && etcd.prefix.ends_with('/') {
            bad("etcd.prefix", "expected a path such as /services");
        }
        if etcd.connect_timeout.is_zero() {
            bad("etcd.connect_timeout", "expected a duration above zero");
        }
        if etcd.request_timeout.is_zero() {
            bad("etcd.request_timeout", "expected a duration above zero");
        }
        problems
    }

    /// The address to register: `advertise` when set (a bare host takes the bound port),
    /// else the bound address, with an unspecified IP (`0.0.0.0`, `::`) replaced by this
    /// host's outbound IP (or loopback when there is none).
    ///
    /// # Errors
    ///
    /// [`DiscoveryError::Config`] when `advertise` is not `host:port` or `host`.
    pub fn advertise_address(&self, bound: SocketAddr) -> Result<Address, DiscoveryError> {
        match &self.advertise {
            Some(advertise) => {
                parse_advertise(advertise, bound.port()).map_err(|()| DiscoveryError::Config {
                    key: "advertise".to_owned(),
                    message: format!("expected host:port or host, got {advertise:?}"),
                })
            }
            None if bound.ip().is_unspecified() => Ok(Address::Ip(SocketAddr::new(
                outbound_ip(bound),
                bound.port(),
            ))),
            None => Ok(Address::Ip(bound)),
        }
    }
}

fn parse_advertise(text: &str, port: u16) -> Result<Address, ()> {
    if let Ok(address) = text.parse::<Address>() {
        return Ok(address);
    }
    format!("{text}:{port}")
        .parse::<Address>()
        .ok()
        .or_else(|| format!("[{text}]:{port}").parse().ok())
        .ok_or(())
}

/// The IP this host uses to reach the outside: a connected UDP socket's local address (no
/// packet is sent).
fn outbound_ip(bound: SocketAddr) -> IpAddr {
    let (any, probe, loopback) = if bound.is_ipv4() {
        (
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 9)),
            IpAddr::from(Ipv4Addr::LOCALHOST),
        )
    } else {
        (
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
            SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 9)),
            IpAddr::from(Ipv6Addr::LOCALHOST),
        )
    };
    std::net::UdpSocket::bind(any)
        .and_then(|socket| {
            socket.connect(probe)?;
            socket.local_addr()
        })
        .map(|local| local.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(loopback)
}

/// `ip` or `ip:port` (port 53 by default).
pub(crate) fn parse_nameserver(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(
            DiscoveryConfig::default().problems(),
            Vec::<(String, String)>::new()
        );
    }

    #[test]
    fn problems_name_their_keys() {
        let mut config = DiscoveryConfig {
            backend: DiscoveryBackend::Etcd,
            advertise: Some("a b".to_owned()),
            ..DiscoveryConfig::default()
        };
        config.static_endpoints.insert(
            "orders".to_owned(),
            StaticEndpoints(vec!["nope".to_owned()]),
        );
        config.dns.nameservers = vec!["dns.example".to_owned()];
        config.etcd.lease_ttl = Duration::from_secs(1);
        config.etcd.endpoints.clear();
        let keys: Vec<String> = config.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "advertise",
                "static.orders",
                "dns.nameservers",
                "etcd.endpoints",
                "etcd.lease_ttl"
            ]
        );
    }

    #[test]
    fn advertise_takes_the_bound_port_when_it_has_none() {
        let bound: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let mut config = DiscoveryConfig {
            advertise: Some("10.1.2.3".to_owned()),
            ..DiscoveryConfig::default()
        };
        assert_eq!(
            config.advertise_address(bound).unwrap().to_string(),
            "10.1.2.3:8080"
        );
        config.advertise = Some("orders-0.orders:9000".to_owned());
        assert_eq!(
            config.advertise_address(bound).unwrap().to_string(),
            "orders-0.orders:9000"
        );
        config.advertise = Some("::1".to_owned());
        assert_eq!(
            config.advertise_address(bound).unwrap().to_string(),
            "[::1]:8080"
        );
        config.advertise = None;
        let local: SocketAddr = "127.0.0.1:8081".parse().unwrap();
        assert_eq!(
            config.advertise_address(local).unwrap().to_string(),
            "127.0.0.1:8081"
        );
        let any = config.advertise_address(bound).unwrap();
        assert!(!any.to_socket_addr().unwrap().ip().is_unspecified());
    }

    #[test]
    fn every_key_loads_from_environment_variables() {
        let vars = [
            ("ORDERS__DISCOVERY__BACKEND", "etcd"),
            ("ORDERS__DISCOVERY__ADVERTISE", "10.0.0.7"),
            ("ORDERS__DISCOVERY__METADATA__ZONE", "eu-1"),
            (
                "ORDERS__DISCOVERY__STATIC__CATALOG",
                "127.0.0.1:8081,127.0.0.1:8082",
            ),
            ("ORDERS__DISCOVERY__DNS__DOMAIN", "shop.svc.cluster.local"),
            ("ORDERS__DISCOVERY__DNS__PORT", "8080"),
            ("ORDERS__DISCOVERY__DNS__PORT_NAME", "web"),
            (
                "ORDERS__DISCOVERY__DNS__NAMESERVERS",
                "10.96.0.10,127.0.0.1:5353",
            ),
            ("ORDERS__DISCOVERY__DNS__MIN_REFRESH", "500ms"),
            ("ORDERS__DISCOVERY__DNS__MAX_REFRESH", "1m"),
            ("ORDERS__DISCOVERY__DNS__TIMEOUT", "1s"),
            (
                "ORDERS__DISCOVERY__ETCD__ENDPOINTS",
                "http://etcd-0:2379,http://etcd-1:2379",
            ),
            ("ORDERS__DISCOVERY__ETCD__LEASE_TTL", "15s"),
            ("ORDERS__DISCOVERY__ETCD__PREFIX", "/registry"),
            ("ORDERS__DISCOVERY__ETCD__CONNECT_TIMEOUT", "3s"),
            ("ORDERS__DISCOVERY__ETCD__REQUEST_TIMEOUT", "4s"),
        ];
        let loaded = crate::config::ConfigLoader::new("orders")
            .unwrap()
            .env(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
            .load::<()>()
            .unwrap();
        let config = loaded.settings.discovery;
        assert_eq!(config.backend, DiscoveryBackend::Etcd);
        assert_eq!(config.advertise.as_deref(), Some("10.0.0.7"));
        assert_eq!(config.metadata["zone"], "eu-1");
        assert_eq!(config.static_endpoints["catalog"].0.len(), 2);
        assert_eq!(config.dns.domain.as_deref(), Some("shop.svc.cluster.local"));
        assert_eq!(config.dns.port, Some(8080));
        assert_eq!(config.dns.port_name, "web");
        assert_eq!(config.dns.nameservers, ["10.96.0.10", "127.0.0.1:5353"]);
        assert_eq!(config.dns.min_refresh, Duration::from_millis(500));
        assert_eq!(config.dns.max_refresh, Duration::from_secs(60));
        assert_eq!(config.dns.timeout, Duration::from_secs(1));
        assert_eq!(
            config.etcd.endpoints,
            ["http://etcd-0:2379", "http://etcd-1:2379"]
        );
        assert_eq!(config.etcd.lease_ttl, Duration::from_secs(15));
        assert_eq!(config.etcd.prefix, "/registry");
        assert_eq!(config.etcd.connect_timeout, Duration::from_secs(3));
        assert_eq!(config.etcd.request_timeout, Duration::from_secs(4));
        assert!(config.problems().is_empty(), "{:?}", config.problems());
    }

    #[test]
    fn nameservers_default_to_port_53() {
        assert_eq!(
            parse_nameserver("10.0.0.10"),
            Some("10.0.0.10:53".parse().unwrap())
        );
        assert_eq!(
            parse_nameserver("127.0.0.1:5353"),
            Some("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(
            parse_nameserver("[::1]:5353"),
            Some("[::1]:5353".parse().unwrap())
        );
        assert_eq!(parse_nameserver("localhost"), None);
    }
}
