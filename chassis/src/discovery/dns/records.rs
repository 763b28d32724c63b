//! Pure mapping from DNS answers to endpoints, and the refresh timing.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::proto::rr::rdata::SRV;
use hickory_resolver::proto::rr::{RData, Record};

use crate::discovery::Endpoint;

/// The SRV records of an answer, without the "service not available here" target (`.`).
pub(super) fn srv_records(answers: &[Record]) -> Vec<&SRV> {
    answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::SRV(srv) if !srv.target.is_root() => Some(srv),
            _ => None,
        })
        .collect()
}

/// The endpoints of one SRV target: each of its addresses at the SRV port, with the SRV
/// `priority`, `weight` and `target` as metadata.
pub(super) fn srv_endpoints(srv: &SRV, ips: impl IntoIterator<Item = IpAddr>) -> Vec<Endpoint> {
    let target = srv.target.to_ascii();
    let target = target.trim_end_matches('.');
    ips.into_iter()
        .map(|ip| {
            Endpoint::new(SocketAddr::new(ip, srv.port))
                .metadata("priority", srv.priority.to_string())
                .metadata("weight", srv.weight.to_string())
                .metadata("target", target)
        })
        .collect()
}

/// How long to wait before resolving again after an answer valid for `valid_for` (`None`:
/// unknown, as for a negative answer without SOA).
pub(super) fn refresh_after(valid_for: Option<Duration>, min: Duration, max: Duration) -> Duration {
    valid_for.unwrap_or(min).clamp(min, max)
}

#[cfg(test)]
mod tests {
    use hickory_resolver::proto::rr::Name;

    use super::*;

    fn srv_record(priority: u16, weight: u16, port: u16, target: &str) -> Record {
        let name = Name::from_ascii("_http._tcp.orders.shop.svc.cluster.local.").unwrap();
        let target = Name::from_ascii(target).unwrap();
        Record::from_rdata(
            name,
            5,
            RData::SRV(SRV::new(priority, weight, port, target)),
        )
    }

    #[test]
    fn srv_answers_map_to_one_endpoint_per_address() {
        let answers = [
            srv_record(0, 50, 8080, "orders-0.orders.shop.svc.cluster.local."),
            srv_record(10, 50, 8080, "."),
            srv_record(1, 20, 9090, "orders-1.orders.shop.svc.cluster.local."),
        ];
        let srvs = srv_records(&answers);
        assert_eq!(srvs.len(), 2, "the root target means: not available here");

        let ips: [IpAddr; 2] = ["10.0.0.7".parse().unwrap(), "fd00::7".parse().unwrap()];
        let endpoints = srv_endpoints(srvs[1], ips);
        let addrs: Vec<String> = endpoints.iter().map(|e| e.address.to_string()).collect();
        assert_eq!(addrs, ["10.0.0.7:9090", "[fd00::7]:9090"]);
        let meta = &endpoints[0].metadata;
        assert_eq!(meta["priority"], "1");
        assert_eq!(meta["weight"], "20");
        assert_eq!(meta["target"], "orders-1.orders.shop.svc.cluster.local");
        assert_eq!(endpoints[0].instance_id, None);
    }

    #[test]
    fn refresh_follows_the_ttl_within_bounds() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(30));
        assert_eq!(
            refresh_after(Some(Duration::from_secs(5)), min, max),
            Duration::from_secs(5)
        );
        assert_eq!(refresh_after(Some(Duration::ZERO), min, max), min);
        assert_eq!(
            refresh_after(Some(Duration::from_secs(3600)), min, max),
            max
        );
        assert_eq!(refresh_after(None, min, max), min);
    }
}
