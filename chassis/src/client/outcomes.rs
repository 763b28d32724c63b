//! `chassis_client_outcomes_total{client, scope, kind}`: every verdict of a client, by kind.
//!
//! Operators see why a breaker moved: a rise of `timeout`, `transport` or `status` is the
//! dependency failing (and counted by the breakers); `deadline`, `bulkhead`, `no_endpoint`,
//! `invalid_request`, `breaker_open` and `cancelled` are not charged to it. The `scope` is
//! `call` (what the client breaker judged, once per call) or `attempt` (what the endpoint's
//! breaker judged, once per attempt, aggregated over the endpoints: no address in a label).

use metrics::Counter;

use crate::resilience::blame::Verdict;

/// The counters of one client and scope, one per kind, made once.
#[derive(Debug)]
pub(crate) struct OutcomeCounters {
    counters: [Counter; Verdict::KINDS.len()],
}

impl OutcomeCounters {
    pub(crate) fn new(client: &str, scope: &'static str) -> Self {
        Self {
            counters: Verdict::KINDS.map(|kind| {
                metrics::counter!(
                    "chassis_client_outcomes_total",
                    "client" => client.to_owned(),
                    "scope" => scope,
                    "kind" => kind,
                )
            }),
        }
    }

    /// Counts one verdict.
    pub(crate) fn record(&self, verdict: Verdict) {
        self.counters[verdict.index()].increment(1);
    }
}
