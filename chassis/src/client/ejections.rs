//! Endpoint health in aggregate: how many of a client's endpoints are ejected, and how often
//! one was, with no address in any label.
//!
//! An endpoint's breaker would otherwise report `chassis_breaker_state{client=
//! "catalog@10.1.2.3:8081"}` for the life of the process: a crashed and replaced pod would
//! leave a breaker "open" forever, and every rolling deploy would add series. Instead:
//!
//! - `chassis_outlier_ejected_endpoints{client}`: endpoints of the current set whose breaker
//!   is not closed (open, half-open or forced open); an endpoint that leaves the set leaves
//!   the count;
//! - `chassis_outlier_ejections_total{client}`: times an endpoint's breaker opened.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use metrics::{Counter, Gauge};

use crate::resilience::breaker::{State, StateListener, Transition};

/// The aggregate of one client's endpoints.
#[derive(Debug)]
pub(crate) struct Ejections {
    /// Endpoints counted as ejected; changed only under this lock, with their marks.
    ejected: Mutex<u32>,
    gauge: Gauge,
    opened: Counter,
}

/// What the aggregate knows of one endpoint (read and written under [`Ejections`]' lock).
#[derive(Debug, Default)]
pub(crate) struct Mark {
    counted: AtomicBool,
    retired: AtomicBool,
}

impl Ejections {
    pub(crate) fn new(client: &str) -> Arc<Self> {
        let gauge =
            metrics::gauge!("chassis_outlier_ejected_endpoints", "client" => client.to_owned());
        gauge.set(0.0);
        Arc::new(Self {
            ejected: Mutex::new(0),
            gauge,
            opened: metrics::counter!(
                "chassis_outlier_ejections_total",
                "client" => client.to_owned()
            ),
        })
    }

    /// The listener of one endpoint's breaker, with the endpoint's mark.
    pub(crate) fn listener(self: &Arc<Self>, mark: &Arc<Mark>) -> impl StateListener + use<> {
        let (ejections, mark) = (Arc::clone(self), Arc::clone(mark));
        move |transition: &Transition<'_>| ejections.changed(transition.to, &mark)
    }

    fn changed(&self, to: State, mark: &Mark) {
        let mut ejected = self.ejected.lock().unwrap_or_else(PoisonError::into_inner);
        if to == State::Open {
            self.opened.increment(1);
        }
        if mark.retired.load(Ordering::Relaxed) {
            return;
        }
        let now = matches!(to, State::Open | State::HalfOpen | State::ForcedOpen);
        if now != mark.counted.swap(now, Ordering::Relaxed) {
            *ejected = if now {
                *ejected + 1
            } else {
                ejected.saturating_sub(1)
            };
            self.gauge.set(f64::from(*ejected));
        }
    }

    /// The endpoint left the set: it leaves the count, whatever its breaker does later.
    pub(crate) fn retire(&self, mark: &Mark) {
        let mut ejected = self.ejected.lock().unwrap_or_else(PoisonError::into_inner);
        mark.retired.store(true, Ordering::Relaxed);
        if mark.counted.swap(false, Ordering::Relaxed) {
            *ejected = ejected.saturating_sub(1);
            self.gauge.set(f64::from(*ejected));
        }
    }
}
