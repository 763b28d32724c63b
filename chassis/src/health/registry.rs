//! The registry of checks and the start-up / shutdown latch.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use futures_util::future::join_all;

use super::check::{CheckResult, HealthCheck, Probe, Probes};
use super::report::{CheckOutcome, HealthReport};
use super::runner::Registered;

/// How long a check may run unless its registration says otherwise.
///
/// Half a second keeps a probe's answer, the reason included, inside Kubernetes' default
/// `timeoutSeconds: 1`; a probe that answers after that counts as failed with no reason given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

/// The name of the built-in check that reports the start-up / shutdown latch.
pub const LIFECYCLE_CHECK: &str = "lifecycle";

/// Output of the lifecycle check before [`HealthRegistry::mark_started`].
pub const STARTING: &str = "starting";

/// Output of the lifecycle check after [`HealthRegistry::mark_stopping`].
pub const SHUTTING_DOWN: &str = "shutting down";

/// The health checks of one service and its lifecycle latch. Cheap to clone: clones share
/// the same checks and latch.
///
/// See the [module docs](super) for what each probe means.
#[derive(Clone)]
pub struct HealthRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    checks: RwLock<Vec<Arc<Registered>>>,
    started: AtomicBool,
    stopping: AtomicBool,
    lifecycle: Arc<str>,
}

impl HealthRegistry {
    /// An empty registry, not yet started.
    pub fn new() -> HealthRegistry {
        HealthRegistry {
            inner: Arc::new(Inner {
                checks: RwLock::new(Vec::new()),
                started: AtomicBool::new(false),
                stopping: AtomicBool::new(false),
                lifecycle: Arc::from(LIFECYCLE_CHECK),
            }),
        }
    }

    /// Registers a readiness check: [`register`](Self::register) with
    /// [`Probe::Readiness`].
    pub fn readiness(
        &self,
        name: impl Into<Arc<str>>,
        check: impl HealthCheck,
    ) -> CheckRegistration {
        self.register(name, Probe::Readiness, check)
    }

    /// Registers a liveness check (never a dependency's): [`register`](Self::register) with
    /// [`Probe::Liveness`].
    pub fn liveness(
        &self,
        name: impl Into<Arc<str>>,
        check: impl HealthCheck,
    ) -> CheckRegistration {
        self.register(name, Probe::Liveness, check)
    }

    /// Registers `check` under `name` for `probes` (one [`Probe`], `Probe::Readiness |
    /// Probe::Startup`, an array or slice of probes, or [`Probes`]).
    ///
    /// The check runs with a timeout of [`DEFAULT_TIMEOUT`] and no result cache; the returned
    /// [`CheckRegistration`] changes both. Checks that share a name share one array in the
    /// report.
    pub fn register(
        &self,
        name: impl Into<Arc<str>>,
        probes: impl Into<Probes>,
        check: impl HealthCheck,
    ) -> CheckRegistration {
        let check = Arc::new(Registered::new(
            name.into(),
            probes.into(),
            Box::new(check),
            DEFAULT_TIMEOUT,
        ));
        self.inner
            .checks
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&check));
        CheckRegistration { check }
    }

    /// Marks start-up as complete: startup passes and readiness may pass from now on.
    pub fn mark_started(&self) {
        self.inner.started.store(true, Ordering::Release);
    }

    /// Marks the beginning of shutdown: readiness fails from now on, at once and for good,
    /// without running its checks. Liveness is not affected.
    pub fn mark_stopping(&self) {
        self.inner.stopping.store(true, Ordering::Release);
    }

    /// Whether [`mark_started`](Self::mark_started) was called.
    pub fn is_started(&self) -> bool {
        self.inner.started.load(Ordering::Acquire)
    }

    /// Whether [`mark_stopping`](Self::mark_stopping) was called.
    pub fn is_stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::Acquire)
    }

    /// Runs the checks of `probe` (all checks for `None`) concurrently, each under its timeout,
    /// and reports them with the lifecycle check.
    ///
    /// Liveness reports only its own checks. Readiness, startup and `None` also report the
    /// built-in [`LIFECYCLE_CHECK`]; readiness after [`mark_stopping`](Self::mark_stopping)
    /// answers `fail` at once without running any check. The answer comes within the longest
    /// timeout of the checks involved.
    ///
    /// Must be called within a Tokio runtime: every check runs on a task of its own.
    pub async fn report(&self, probe: Option<Probe>) -> HealthReport {
        if probe == Some(Probe::Readiness) && self.is_stopping() {
            return HealthReport::new(vec![self.lifecycle(Probe::Readiness)]);
        }
        let selected: Vec<Arc<Registered>> = self
            .inner
            .checks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|c| probe.is_none_or(|p| c.probes.contains(p)))
            .cloned()
            .collect();
        let outcomes = if selected.is_empty() {
            Vec::new()
        } else {
            join_all(selected.iter().map(Registered::outcome)).await
        };
        // The latch is read after the checks ran, so a shutdown that began meanwhile shows.
        let lifecycle = match probe {
            Some(Probe::Liveness) => None,
            Some(Probe::Startup) => Some(self.lifecycle(Probe::Startup)),
            Some(Probe::Readiness) | None => Some(self.lifecycle(Probe::Readiness)),
        };
        let mut checks = Vec::with_capacity(outcomes.len() + 1);
        checks.extend(lifecycle);
        checks.extend(outcomes);
        HealthReport::new(checks)
    }

    /// The lifecycle check as `probe` sees it.
    fn lifecycle(&self, probe: Probe) -> CheckOutcome {
        let (started, stopping) = (self.is_started(), self.is_stopping());
        let result = match probe {
            Probe::Readiness if stopping => CheckResult::fail(SHUTTING_DOWN),
            _ if started => CheckResult::pass(),
            _ if stopping => CheckResult::fail(SHUTTING_DOWN),
            _ => CheckResult::fail(STARTING),
        };
        CheckOutcome::new(Arc::clone(&self.inner.lifecycle), result)
    }
}

impl Default for HealthRegistry {
    fn default() -> Self {
        HealthRegistry::new()
    }
}

impl fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let checks = self
            .inner
            .checks
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("HealthRegistry")
            .field("started", &self.is_started())
            .field("stopping", &self.is_stopping())
            .field("checks", &*checks)
            .finish()
    }
}

/// A registered check, to tune its timeout and result cache.
///
/// ```
/// use std::time::Duration;
/// use chassis::health::{CheckResult, HealthRegistry, Probe};
///
/// let registry = HealthRegistry::new();
/// registry
///     .register("payments-api", Probe::Readiness, || async { CheckResult::pass() })
///     .timeout(Duration::from_millis(200))
///     .cache_ttl(Duration::from_secs(5));
/// ```
#[derive(Debug, Clone)]
pub struct CheckRegistration {
    check: Arc<Registered>,
}

impl CheckRegistration {
    /// How long one run may take before it reports `fail` with output "timed out"
    /// (default [`DEFAULT_TIMEOUT`]).
    #[allow(
        clippy::return_self_not_must_use,
        reason = "applied at once; the handle is optional"
    )]
    pub fn timeout(self, timeout: Duration) -> Self {
        self.check.set_timeout(timeout);
        self
    }

    /// Reuse a result for `ttl` after it was produced instead of running the check again
    /// (default: no cache; `Duration::ZERO` turns the cache off). Every result is cached,
    /// failures and timeouts included; the report keeps the original `time`.
    #[allow(
        clippy::return_self_not_must_use,
        reason = "applied at once; the handle is optional"
    )]
    pub fn cache_ttl(self, ttl: Duration) -> Self {
        self.check.set_cache_ttl(ttl);
        self
    }

    /// The name the check was registered under.
    pub fn name(&self) -> &str {
        &self.check.name
    }

    /// The probes the check is tagged for.
    pub fn probes(&self) -> Probes {
        self.check.probes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Status;

    fn view(registry: &HealthRegistry, probe: Probe) -> (Status, Option<String>) {
        let outcome = registry.lifecycle(probe);
        (outcome.status(), outcome.output().map(str::to_owned))
    }

    fn fail(output: &str) -> (Status, Option<String>) {
        (Status::Fail, Some(output.to_owned()))
    }

    #[test]
    fn lifecycle_latch_moves_one_way() {
        let registry = HealthRegistry::new();
        assert_eq!(view(&registry, Probe::Readiness), fail(STARTING));
        assert_eq!(view(&registry, Probe::Startup), fail(STARTING));

        registry.mark_started();
        assert!(registry.is_started());
        assert_eq!(view(&registry, Probe::Readiness), (Status::Pass, None));
        assert_eq!(view(&registry, Probe::Startup), (Status::Pass, None));

        registry.clone().mark_stopping();
        assert!(registry.is_stopping());
        assert_eq!(view(&registry, Probe::Readiness), fail(SHUTTING_DOWN));
        // Start-up did complete; only readiness turns.
        assert_eq!(view(&registry, Probe::Startup), (Status::Pass, None));

        registry.mark_started();
        assert_eq!(view(&registry, Probe::Readiness), fail(SHUTTING_DOWN));
    }

    #[test]
    fn stopping_before_start_fails_startup_too() {
        let registry = HealthRegistry::new();
        registry.mark_stopping();
        assert_eq!(view(&registry, Probe::Startup), fail(SHUTTING_DOWN));
        assert_eq!(view(&registry, Probe::Readiness), fail(SHUTTING_DOWN));
    }

    #[test]
    fn registration_keeps_name_and_probes() {
        let registry = HealthRegistry::default();
        let registration = registry
            .register("db", Probe::Readiness | Probe::Startup, ())
            .timeout(Duration::from_secs(2))
            .cache_ttl(Duration::from_secs(5));
        assert_eq!(registration.name(), "db");
        assert_eq!(registration.probes(), Probe::Readiness | Probe::Startup);
        let debug = format!("{registry:?}");
        assert!(debug.contains("\"db\"") && debug.contains("2s"), "{debug}");
    }
}
