//! [`ClientCheck`]: a client's view of its dependency as a health check.

use crate::health::{CheckFuture, CheckResult, HealthCheck};
use crate::resilience::breaker::State;

use super::HttpClient;

/// A health check on a client's dependency, from what the client already knows (no call is
/// made): `warn` while no endpoint is known or the client's breaker is open, `pass` otherwise.
///
/// It never fails: a readiness that fails with a dependency takes every instance out of
/// rotation at once when the dependency is down, which turns one outage into two (the
/// Kubernetes guidance). `warn` answers `200` and shows in `/health/ready`'s body.
///
/// ```no_run
/// # fn demo(ctx: chassis::service::Context<()>) -> Result<(), chassis::client::ClientBuildError> {
/// use chassis::health::Probe;
///
/// let catalog = ctx.client("catalog")?;
/// ctx.health().register("catalog", Probe::Readiness, catalog.check());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientCheck {
    client: HttpClient,
}

impl ClientCheck {
    pub(crate) fn new(client: HttpClient) -> Self {
        Self { client }
    }

    fn verdict(&self) -> CheckResult {
        if self.client.endpoints().is_empty() {
            return CheckResult::warn(format!("no endpoint known for {}", self.client.name()));
        }
        match self.client.breaker().state() {
            State::Open | State::ForcedOpen => CheckResult::warn(format!(
                "the circuit breaker of {} is open",
                self.client.name()
            )),
            _ => CheckResult::pass(),
        }
    }
}

impl HealthCheck for ClientCheck {
    fn check(&self) -> CheckFuture<'_> {
        let verdict = self.verdict();
        Box::pin(std::future::ready(verdict))
    }
}
