//! [`Address`]: where an endpoint listens, an IP socket address or a DNS name and port.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// Where an endpoint listens.
///
/// ```
/// use chassis::discovery::Address;
///
/// let ip: Address = "10.0.0.7:8080".parse()?;
/// assert_eq!(ip.port(), 8080);
/// assert!(ip.to_socket_addr().is_some());
///
/// let name: Address = "orders-0.orders.shop.svc.cluster.local:8080".parse()?;
/// assert_eq!(name.host(), "orders-0.orders.shop.svc.cluster.local");
/// assert_eq!(name.to_string(), "orders-0.orders.shop.svc.cluster.local:8080");
///
/// let v6: Address = "[::1]:80".parse()?;
/// assert_eq!(v6.host(), "::1");
/// assert_eq!(v6.to_string(), "[::1]:80");
/// # Ok::<(), chassis::discovery::InvalidAddress>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Address {
    /// An IP address and port.
    Ip(SocketAddr),
    /// A DNS name and port, resolved by whoever connects.
    Name(String, u16),
}

impl Address {
    /// From a host (IP or DNS name, IPv6 with or without brackets) and a port.
    ///
    /// # Errors
    ///
    /// [`InvalidAddress`] when `host` is empty or not a plausible host name.
    pub fn from_host_port(host: &str, port: u16) -> Result<Self, InvalidAddress> {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = bare.parse() {
            return Ok(Self::Ip(SocketAddr::new(ip, port)));
        }
        let valid = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if valid {
            Ok(Self::Name(host.trim_end_matches('.').to_owned(), port))
        } else {
            Err(InvalidAddress(format!("{host}:{port}")))
        }
    }

    /// The host: the IP (IPv6 without brackets) or the name.
    pub fn host(&self) -> String {
        match self {
            Self::Ip(addr) => addr.ip().to_string(),
            Self::Name(name, _) => name.clone(),
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            Self::Ip(addr) => addr.port(),
            Self::Name(_, port) => *port,
        }
    }

    /// The socket address, when this is an IP address.
    pub fn to_socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Self::Ip(addr) => Some(*addr),
            Self::Name(..) => None,
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Self {
        Self::Ip(addr)
    }
}

/// `host:port` (IPv6 in brackets): usable as a URI authority.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(addr) => addr.fmt(f),
            Self::Name(name, port) => write!(f, "{name}:{port}"),
        }
    }
}

impl FromStr for Address {
    type Err = InvalidAddress;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(Self::Ip(addr));
        }
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| InvalidAddress(text.to_owned()))?;
        let port = port.parse().map_err(|_| InvalidAddress(text.to_owned()))?;
        if host.contains(':') && !host.starts_with('[') {
            return Err(InvalidAddress(text.to_owned()));
        }
        Self::from_host_port(host, port).map_err(|_| InvalidAddress(text.to_owned()))
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Text that is not `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address {0:?}: expected host:port")]
pub struct InvalidAddress(pub(crate) String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ips_names_and_rejects_the_rest() {
        assert!(matches!("127.0.0.1:80".parse(), Ok(Address::Ip(_))));
        assert!(matches!("[fe80::1]:80".parse(), Ok(Address::Ip(_))));
        assert_eq!(
            "catalog.shop.svc:8080".parse::<Address>(),
            Ok(Address::Name("catalog.shop.svc".to_owned(), 8080))
        );
        assert_eq!(
            "catalog.:80".parse::<Address>(),
            Ok(Address::Name("catalog".to_owned(), 80))
        );
        for bad in [
            "",
            "catalog",
            "catalog:",
            ":80",
            "catalog:http",
            "fe80::1:80",
            "a b:80",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn host_and_port_build_the_same_addresses() {
        assert_eq!(
            Address::from_host_port("::1", 80).unwrap().to_string(),
            "[::1]:80"
        );
        assert_eq!(
            Address::from_host_port("[::1]", 80).unwrap(),
            "[::1]:80".parse().unwrap()
        );
        assert!(Address::from_host_port("", 80).is_err());
    }
}
