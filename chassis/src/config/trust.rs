//! `server.trust`: whose hints the server honours (plain data; the server applies it).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// `server.trust`: which callers' hints (the deadline header, `traceparent` and `tracestate`,
/// `baggage`, `x-request-id`) the server honours.
///
/// ```toml
/// [server.trust]
/// mode = "edge"                          # a public edge: no caller is trusted...
/// peers = ["10.0.0.0/8", "fd00::/8"]     # ...except callers from these ranges
/// request_id = "regenerate"              # untrusted callers' ids are replaced, not checked
/// ```
///
/// A caller is trusted when `peers` lists its address; with no `peers`, `mode` decides for
/// every caller: `internal` trusts all of them (a service behind the edge), `edge` none.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustConfig {
    /// Whom to trust when `peers` is empty.
    pub mode: TrustMode,
    /// Address ranges (`10.0.0.0/8`, or a single address) whose callers are trusted; when not
    /// empty, exactly these are trusted, whatever the mode.
    #[serde(deserialize_with = "super::list::deserialize")]
    pub peers: Vec<PeerRange>,
    /// What happens to an untrusted caller's `x-request-id`.
    pub request_id: RequestIdPolicy,
}

/// Whom a server trusts by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustMode {
    /// An internal service: every caller's hints are honoured.
    #[default]
    Internal,
    /// A public edge: no caller's hints are honoured (the deadline is ignored, a new trace
    /// begins and links to the caller's, sampling is decided here, baggage is dropped).
    Edge,
}

/// What happens to an untrusted caller's `x-request-id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestIdPolicy {
    /// Kept when it is 1 to 128 visible ASCII characters, replaced otherwise (as for trusted
    /// callers).
    #[default]
    Validate,
    /// Always replaced by a fresh id.
    Regenerate,
}

/// An address range in CIDR form (`10.0.0.0/8`, `fd00::/8`) or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerRange(pub IpNet);

impl PeerRange {
    /// Whether `addr` is in the range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        self.0.contains(&addr)
    }
}

/// A range that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an address range such as 10.0.0.0/8 or a single address, got {0:?}")]
pub struct InvalidPeerRange(String);

impl FromStr for PeerRange {
    type Err = InvalidPeerRange;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(Self(net.trunc()));
        }
        text.parse::<IpAddr>()
            .map(|addr| Self(IpNet::from(addr)))
            .map_err(|_| InvalidPeerRange(text.to_owned()))
    }
}

impl fmt::Display for PeerRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for PeerRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for PeerRange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_single_addresses_parse() {
        let range: PeerRange = "10.0.0.0/8".parse().expect("range");
        assert!(range.contains("10.1.2.3".parse().expect("ip")));
        assert!(!range.contains("11.0.0.1".parse().expect("ip")));
        assert!(range.contains("::ffff:10.9.9.9".parse().expect("mapped")));
        let single: PeerRange = " 127.0.0.1 ".parse().expect("address");
        assert_eq!(single.to_string(), "127.0.0.1/32");
        let v6: PeerRange = "fd00::/8".parse().expect("v6");
        assert!(v6.contains("fd12::1".parse().expect("ip")));
        let host_bits: PeerRange = "10.1.2.3/8".parse().expect("truncated");
        assert_eq!(host_bits.to_string(), "10.0.0.0/8");
        for bad in ["", "10.0.0.0/33", "example.com", "10.0.0"] {
            assert!(bad.parse::<PeerRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_comma_separated_string_is_a_list() {
        let config: TrustConfig = toml::from_str(
            r#"mode = "edge"
peers = "10.0.0.0/8, 192.168.1.1""#,
        )
        .expect("valid");
        assert_eq!(config.mode, TrustMode::Edge);
        assert_eq!(config.peers.len(), 2);
        let err = toml::from_str::<TrustConfig>(r#"peers = ["nope"]"#).expect_err("invalid");
        assert!(err.to_string().contains("address range"), "{err}");
    }
}
