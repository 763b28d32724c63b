//! The trust boundary: whose hints (deadline, trace context, baggage, request id) count.
//!
//! Decided once per connection from the peer's address (`server.trust`), as Envoy's
//! `internal_address_config` does, and read by every request on it. A trusted caller's hints
//! pass as they are. From an untrusted one, the standard stack removes them before anything
//! reads them, as Envoy strips its `x-envoy-*` headers from external callers:
//!
//! - `x-request-timeout-ms` and `grpc-timeout` are dropped: the caller cannot shorten (or
//!   spend) the request's time, nor, through it, make the service's own calls fail;
//! - `traceparent` and `tracestate` are dropped, so a new trace begins and sampling is
//!   decided here; a valid `traceparent` is kept as a [`CallerLink`] in the request
//!   extensions, and the exported server span links to it;
//! - `baggage` is dropped;
//! - `x-request-id` is validated (1 to 128 visible ASCII characters) or, with
//!   `server.trust.request_id = "regenerate"`, always replaced.

use std::net::IpAddr;
use std::sync::Arc;

use http::HeaderMap;

use crate::config::{PeerRange, RequestIdPolicy, TrustConfig, TrustMode};
use crate::resilience::deadline::HEADER as DEADLINE;
use crate::telemetry::propagation::{BAGGAGE, CallerLink, TRACEPARENT, TRACESTATE, TraceParent};

/// gRPC's deadline header, an inbound hint like [`DEADLINE`] (a plain name here, so the
/// trust boundary holds without the `grpc` feature too).
const GRPC_TIMEOUT: http::HeaderName = http::HeaderName::from_static("grpc-timeout");

/// `server.trust`, ready for the per-connection decision.
#[derive(Debug, Clone)]
pub(crate) struct TrustPolicy {
    /// Whether a caller is trusted when `peers` is empty or its address is unknown.
    default: bool,
    peers: Arc<[PeerRange]>,
    /// Whether untrusted callers' request ids are always replaced.
    pub(crate) regenerate_ids: bool,
}

impl TrustPolicy {
    pub(crate) fn from_config(config: &TrustConfig) -> Self {
        Self {
            default: config.mode == TrustMode::Internal && config.peers.is_empty(),
            peers: Arc::from(config.peers.as_slice()),
            regenerate_ids: config.request_id == RequestIdPolicy::Regenerate,
        }
    }

    /// Whether a caller at `peer` is trusted: listed in `peers` when there are any, else as
    /// the mode says. A caller whose address is unknown (a service called in-process) gets
    /// the mode's answer.
    pub(crate) fn trusts(&self, peer: Option<IpAddr>) -> bool {
        match peer {
            Some(addr) if !self.peers.is_empty() => self.peers.iter().any(|r| r.contains(addr)),
            _ => self.default,
        }
    }
}

/// Removes the hints an untrusted caller may not give; returns its trace position (from a
/// single, valid `traceparent`) for the new trace to link to.
pub(crate) fn strip_untrusted(headers: &mut HeaderMap) -> Option<CallerLink> {
    let mut traceparents = headers.get_all(TRACEPARENT).iter();
    let caller = match (traceparents.next(), traceparents.next()) {
        (Some(value), None) => TraceParent::parse(value).map(CallerLink),
        _ => None,
    };
    for name in [TRACEPARENT, TRACESTATE, BAGGAGE, DEADLINE, GRPC_TIMEOUT] {
        if headers.contains_key(&name) {
            headers.remove(&name);
        }
    }
    caller
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn policy(toml: &str) -> TrustPolicy {
        TrustPolicy::from_config(&toml::from_str(toml).expect("valid trust config"))
    }

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    #[test]
    fn peers_decide_when_listed_and_the_mode_otherwise() {
        let internal = policy("");
        assert!(internal.trusts(ip("203.0.113.9")) && internal.trusts(None));
        let edge = policy(r#"mode = "edge""#);
        assert!(!edge.trusts(ip("10.0.0.1")) && !edge.trusts(None));
        let between = policy(
            r#"mode = "edge"
peers = ["10.0.0.0/8"]"#,
        );
        assert!(between.trusts(ip("10.2.3.4")));
        assert!(!between.trusts(ip("203.0.113.9")));
        assert!(!between.trusts(None));
        let only_mesh = policy(r#"peers = ["10.0.0.0/8"]"#);
        assert!(!only_mesh.trusts(ip("203.0.113.9")));
    }

    #[test]
    fn untrusted_hints_go_and_a_valid_traceparent_stays_as_a_link() {
        let sent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("traceparent", sent),
            ("tracestate", "vendor=1"),
            ("baggage", "user=alice"),
            ("x-request-timeout-ms", "0"),
            ("grpc-timeout", "1n"),
            ("x-request-id", "caller-1"),
            ("accept", "*/*"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        let link = strip_untrusted(&mut headers).expect("a link");
        assert_eq!(link.0.to_string(), sent);
        let mut left: Vec<_> = headers.keys().map(http::HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["accept", "x-request-id"]);
        headers.append("traceparent", HeaderValue::from_static(sent));
        headers.append("traceparent", HeaderValue::from_static(sent));
        assert_eq!(strip_untrusted(&mut headers), None, "two lines are invalid");
        assert!(!headers.contains_key("traceparent"));
    }
}
