//! Running one registered check: timeout, panic catching, result cache and single flight.

use std::any::Any;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::sync::watch;
use tokio::time::Instant;

use super::check::{CheckResult, HealthCheck, Probes};
use super::report::CheckOutcome;

/// Output of a check that did not finish within its timeout.
pub(crate) const TIMED_OUT: &str = "timed out";
/// Output of a check that panicked.
pub(crate) const PANICKED: &str = "panicked";

/// A check as the registry holds it.
pub(crate) struct Registered {
    pub(crate) name: Arc<str>,
    pub(crate) probes: Probes,
    check: Box<dyn HealthCheck>,
    slot: Mutex<Slot>,
}

/// The mutable part of a check: its settings, its last result and the run in flight.
struct Slot {
    timeout: Duration,
    cache_ttl: Option<Duration>,
    /// The last outcome and the instant it was produced.
    last: Option<(CheckOutcome, Instant)>,
    /// The run in flight; every caller that arrives meanwhile waits for the same run.
    in_flight: Option<watch::Receiver<Option<CheckOutcome>>>,
}

impl Registered {
    pub(crate) fn new(
        name: Arc<str>,
        probes: Probes,
        check: Box<dyn HealthCheck>,
        timeout: Duration,
    ) -> Registered {
        Registered {
            name,
            probes,
            check,
            slot: Mutex::new(Slot {
                timeout,
                cache_ttl: None,
                last: None,
                in_flight: None,
            }),
        }
    }

    fn slot(&self) -> MutexGuard<'_, Slot> {
        // The lock is never held across user code, so a poisoned slot is still consistent.
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_timeout(&self, timeout: Duration) {
        self.slot().timeout = timeout;
    }

    pub(crate) fn set_cache_ttl(&self, ttl: Duration) {
        self.slot().cache_ttl = (!ttl.is_zero()).then_some(ttl);
    }

    /// The check's outcome: the cached one while fresh, else the run in flight, else a new run.
    ///
    /// The run happens on its own task, so it finishes (and fills the cache) even when every
    /// caller has gone away, and it is bounded by the check's timeout.
    pub(crate) async fn outcome(self: &Arc<Self>) -> CheckOutcome {
        let mut in_flight = {
            let mut slot = self.slot();
            if let (Some(ttl), Some((outcome, at))) = (slot.cache_ttl, &slot.last)
                && at.elapsed() < ttl
            {
                return outcome.clone();
            }
            if let Some(in_flight) = &slot.in_flight {
                in_flight.clone()
            } else {
                let (tx, rx) = watch::channel(None);
                slot.in_flight = Some(rx.clone());
                tokio::spawn(Arc::clone(self).run(slot.timeout, tx));
                rx
            }
        };
        match in_flight.wait_for(Option::is_some).await {
            Ok(outcome) => (*outcome).clone(),
            Err(_) => None,
        }
        // The sender is dropped without a value only when the runtime shuts down.
        .unwrap_or_else(|| CheckOutcome::new(self.name.clone(), CheckResult::fail("cancelled")))
    }

    async fn run(self: Arc<Self>, timeout: Duration, tx: watch::Sender<Option<CheckOutcome>>) {
        let check = &*self.check;
        let guarded = AssertUnwindSafe(async move { check.check().await }).catch_unwind();
        let result = match tokio::time::timeout(timeout, guarded).await {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => {
                tracing::error!(check = %self.name, panic = panic_message(&*panic), "health check panicked");
                CheckResult::fail(PANICKED)
            }
            Err(_) => {
                tracing::warn!(check = %self.name, ?timeout, "health check timed out");
                CheckResult::fail(TIMED_OUT)
            }
        };
        let outcome = CheckOutcome::new(self.name.clone(), result);
        {
            let mut slot = self.slot();
            slot.last = Some((outcome.clone(), Instant::now()));
            slot.in_flight = None;
        }
        // Nobody may be waiting any more; the cache above still holds the outcome.
        let _ = tx.send(Some(outcome));
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}

impl fmt::Debug for Registered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slot = self.slot();
        f.debug_struct("Registered")
            .field("name", &self.name)
            .field("probes", &self.probes)
            .field("timeout", &slot.timeout)
            .field("cache_ttl", &slot.cache_ttl)
            .finish_non_exhaustive()
    }
}
