//! The vocabulary of health: probes, statuses, check results and the check strategy.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::ops::BitOr;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

/// One of the three Kubernetes probes a check can answer for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Probe {
    /// "Is the process itself healthy?" Failing it restarts the container.
    Liveness,
    /// "Should this instance receive traffic?" Failing it removes the instance from load
    /// balancing, nothing more.
    Readiness,
    /// "Has start-up finished?" Until it passes, Kubernetes does not run the other two.
    Startup,
}

impl Probe {
    /// Every probe, in the order liveness, readiness, startup.
    pub const ALL: [Probe; 3] = [Probe::Liveness, Probe::Readiness, Probe::Startup];

    /// The lower-case name: `liveness`, `readiness` or `startup`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Probe::Liveness => "liveness",
            Probe::Readiness => "readiness",
            Probe::Startup => "startup",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Probe::Liveness => 1,
            Probe::Readiness => 2,
            Probe::Startup => 4,
        }
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`Probe`]s: the probes one check is tagged for.
///
/// Anything that names probes converts into it, so `register` accepts
/// `Probe::Readiness`, `Probe::Readiness | Probe::Startup`,
/// `[Probe::Readiness, Probe::Startup]` or `&[Probe::Readiness][..]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Probes(u8);

impl Probes {
    /// No probe at all (the check then only shows on `GET /health`).
    pub const NONE: Probes = Probes(0);
    /// Liveness only.
    pub const LIVENESS: Probes = Probes(Probe::Liveness.bit());
    /// Readiness only.
    pub const READINESS: Probes = Probes(Probe::Readiness.bit());
    /// Startup only.
    pub const STARTUP: Probes = Probes(Probe::Startup.bit());
    /// All three probes.
    pub const ALL: Probes = Probes(7);

    /// Whether `probe` is in the set.
    pub const fn contains(self, probe: Probe) -> bool {
        self.0 & probe.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set with `probe` added.
    #[must_use]
    pub const fn with(self, probe: Probe) -> Probes {
        Probes(self.0 | probe.bit())
    }

    /// The probes in the set, in the order of [`Probe::ALL`].
    pub fn iter(self) -> impl Iterator<Item = Probe> {
        Probe::ALL.into_iter().filter(move |p| self.contains(*p))
    }
}

impl From<Probe> for Probes {
    fn from(probe: Probe) -> Self {
        Probes(probe.bit())
    }
}

impl From<&[Probe]> for Probes {
    fn from(probes: &[Probe]) -> Self {
        probes.iter().fold(Probes::NONE, |set, p| set.with(*p))
    }
}

impl<const N: usize> From<[Probe; N]> for Probes {
    fn from(probes: [Probe; N]) -> Self {
        Probes::from(&probes[..])
    }
}

impl<const N: usize> From<&[Probe; N]> for Probes {
    fn from(probes: &[Probe; N]) -> Self {
        Probes::from(&probes[..])
    }
}

impl FromIterator<Probe> for Probes {
    fn from_iter<I: IntoIterator<Item = Probe>>(iter: I) -> Self {
        iter.into_iter().fold(Probes::NONE, Probes::with)
    }
}

impl<T: Into<Probes>> BitOr<T> for Probe {
    type Output = Probes;

    fn bitor(self, rhs: T) -> Probes {
        Probes(self.bit() | rhs.into().0)
    }
}

impl<T: Into<Probes>> BitOr<T> for Probes {
    type Output = Probes;

    fn bitor(self, rhs: T) -> Probes {
        Probes(self.0 | rhs.into().0)
    }
}

/// The health of one check or of a whole report, ordered from best to worst.
///
/// Serialized lower-case, as the IETF draft "Health Check Response Format for HTTP APIs" asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Healthy.
    Pass,
    /// Healthy, with a concern worth a look (still HTTP 200).
    Warn,
    /// Unhealthy (HTTP 503).
    Fail,
}

impl Status {
    /// The lower-case name: `pass`, `warn` or `fail`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }

    /// The worse of two statuses.
    #[must_use]
    pub fn worst(self, other: Status) -> Status {
        self.max(other)
    }

    /// Whether a probe with this status should be answered with HTTP 200 (`pass` or `warn`).
    pub const fn is_healthy(self) -> bool {
        !matches!(self, Status::Fail)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one run of a check found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CheckResult {
    /// The verdict.
    pub status: Status,
    /// A human message, shown as `output` (the draft asks for one on `warn` and `fail`).
    pub output: Option<Cow<'static, str>>,
    /// An observed value such as a pool size or a lag, shown as `observedValue`.
    pub observed_value: Option<serde_json::Value>,
    /// The unit of the observed value, such as `"ms"` or `"connections"`, shown as
    /// `observedUnit`.
    pub observed_unit: Option<Cow<'static, str>>,
}

impl CheckResult {
    /// A passing result without a message.
    pub const fn pass() -> CheckResult {
        CheckResult::new(Status::Pass, None)
    }

    /// A warning: healthy, but with a concern described by `output`.
    pub fn warn(output: impl Into<Cow<'static, str>>) -> CheckResult {
        CheckResult::new(Status::Warn, Some(output.into()))
    }

    /// A failure described by `output`.
    pub fn fail(output: impl Into<Cow<'static, str>>) -> CheckResult {
        CheckResult::new(Status::Fail, Some(output.into()))
    }

    /// A result with the given status and optional message.
    pub const fn new(status: Status, output: Option<Cow<'static, str>>) -> CheckResult {
        CheckResult {
            status,
            output,
            observed_value: None,
            observed_unit: None,
        }
    }

    /// Sets the message.
    #[must_use]
    pub fn output(mut self, output: impl Into<Cow<'static, str>>) -> CheckResult {
        self.output = Some(output.into());
        self
    }

    /// Sets the observed value and its unit (for example `42` and `"ms"`).
    #[must_use]
    pub fn observed(
        mut self,
        value: impl Into<serde_json::Value>,
        unit: impl Into<Cow<'static, str>>,
    ) -> CheckResult {
        self.observed_value = Some(value.into());
        self.observed_unit = Some(unit.into());
        self
    }
}

impl From<Status> for CheckResult {
    fn from(status: Status) -> Self {
        CheckResult::new(status, None)
    }
}

/// The boxed future a [`HealthCheck`] returns.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = CheckResult> + Send + 'a>>;

/// A health check: one async look at one thing (a pool, a queue, a dependency, a flag).
///
/// Implemented for closures returning a future, so most checks are written inline:
///
/// ```
/// use chassis::health::{CheckResult, HealthRegistry, Probe};
///
/// let registry = HealthRegistry::new();
/// registry.register("db", Probe::Readiness, || async { CheckResult::pass() });
/// ```
///
/// and for `()`, a check that always passes. A check need not bound its own time: the registry
/// runs it under a timeout, catches its panics and caches its result if asked. It must not
/// block the thread, though: a timeout cannot interrupt blocking code.
pub trait HealthCheck: Send + Sync + 'static {
    /// Runs the check once.
    fn check(&self) -> CheckFuture<'_>;
}

impl<F, Fut> HealthCheck for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckResult> + Send + 'static,
{
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(self())
    }
}

impl HealthCheck for () {
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(std::future::ready(CheckResult::pass()))
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;

    use super::*;

    #[test]
    fn probes_convert_from_every_spelling() {
        let both = Probes::READINESS.with(Probe::Startup);
        assert_eq!(Probes::from(Probe::Readiness), Probes::READINESS);
        assert_eq!(Probe::Readiness | Probe::Startup, both);
        assert_eq!(Probes::from([Probe::Readiness, Probe::Startup]), both);
        assert_eq!(Probes::from(&[Probe::Startup, Probe::Readiness]), both);
        assert_eq!(Probes::from(&[Probe::Readiness, Probe::Startup][..]), both);
        assert_eq!(Probe::ALL.into_iter().collect::<Probes>(), Probes::ALL);
        assert_eq!(
            Probes::LIVENESS | Probe::Readiness | Probe::Startup,
            Probes::ALL
        );
        assert!(Probes::NONE.is_empty());
        assert!(!both.is_empty());
    }

    #[test]
    fn probes_contain_only_their_members() {
        let both = Probe::Readiness | Probe::Startup;
        assert!(both.contains(Probe::Readiness));
        assert!(both.contains(Probe::Startup));
        assert!(!both.contains(Probe::Liveness));
        assert_eq!(
            both.iter().collect::<Vec<_>>(),
            [Probe::Readiness, Probe::Startup]
        );
        assert_eq!(Probes::NONE.iter().count(), 0);
        assert_eq!(Probe::Startup.to_string(), "startup");
    }

    #[test]
    fn status_orders_from_best_to_worst() {
        assert!(Status::Pass < Status::Warn && Status::Warn < Status::Fail);
        assert_eq!(Status::Pass.worst(Status::Warn), Status::Warn);
        assert_eq!(Status::Fail.worst(Status::Warn), Status::Fail);
        assert!(Status::Pass.is_healthy());
        assert!(Status::Warn.is_healthy());
        assert!(!Status::Fail.is_healthy());
    }

    #[test]
    fn status_serializes_lower_case() {
        for (status, text) in [
            (Status::Pass, "\"pass\""),
            (Status::Warn, "\"warn\""),
            (Status::Fail, "\"fail\""),
        ] {
            assert_eq!(serde_json::to_string(&status).expect("json"), text);
            assert_eq!(serde_json::from_str::<Status>(text).expect("json"), status);
            assert_eq!(format!("\"{status}\""), text);
        }
    }

    #[test]
    fn constructors_set_status_and_output() {
        assert_eq!(CheckResult::pass().status, Status::Pass);
        assert_eq!(CheckResult::pass().output, None);
        let warn = CheckResult::warn("slow");
        assert_eq!(
            (warn.status, warn.output.as_deref()),
            (Status::Warn, Some("slow"))
        );
        let fail = CheckResult::fail(String::from("down")).observed(3, "errors");
        assert_eq!(
            (fail.status, fail.output.as_deref()),
            (Status::Fail, Some("down"))
        );
        assert_eq!(fail.observed_value, Some(serde_json::json!(3)));
        assert_eq!(fail.observed_unit.as_deref(), Some("errors"));
        assert_eq!(CheckResult::from(Status::Warn).output, None);
    }

    #[test]
    fn closures_and_unit_are_checks() {
        let closure = || async { CheckResult::fail("no") };
        let boxed: Box<dyn HealthCheck> = Box::new(closure);
        assert_eq!(boxed.check().now_or_never(), Some(CheckResult::fail("no")));
        assert_eq!(().check().now_or_never(), Some(CheckResult::pass()));
    }
}
