//! Metrics and logs of state changes and rejections.

use metrics::{Counter, Gauge};

use super::State;

/// The breaker's metric handles, created once per breaker.
pub(crate) struct Observer {
    states: [Gauge; 5],
    rejected: Counter,
    /// Whether transitions are counted (a silent observer only logs them).
    counts: bool,
}

impl Observer {
    pub(crate) fn new(name: &str, initial: State) -> Self {
        let states = State::ALL.map(|state| {
            metrics::gauge!(
                "chassis_breaker_state",
                "client" => name.to_owned(),
                "state" => state.as_str()
            )
        });
        for state in State::ALL {
            states[state.index()].set(if state == initial { 1.0 } else { 0.0 });
        }
        let rejected =
            metrics::counter!("chassis_breaker_rejected_total", "client" => name.to_owned());
        Self {
            states,
            rejected,
            counts: true,
        }
    }

    /// An observer that records no metric (its breaker's owner reports in aggregate).
    pub(crate) fn silent() -> Self {
        Self {
            states: std::array::from_fn(|_| Gauge::noop()),
            rejected: Counter::noop(),
            counts: false,
        }
    }

    #[inline]
    pub(crate) fn rejected(&self) {
        self.rejected.increment(1);
    }

    /// Called under the transition lock, so gauges follow the order of transitions.
    pub(crate) fn transition(&self, name: &str, from: State, to: State) {
        tracing::info!(
            breaker = name,
            from = from.as_str(),
            to = to.as_str(),
            "circuit breaker state changed"
        );
        self.states[from.index()].set(0.0);
        self.states[to.index()].set(1.0);
        if !self.counts {
            return;
        }
        metrics::counter!(
            "chassis_breaker_transitions_total",
            "client" => name.to_owned(),
            "from" => from.as_str(),
            "to" => to.as_str()
        )
        .increment(1);
    }
}
