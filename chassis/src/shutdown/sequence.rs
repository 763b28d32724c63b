//! [`Sequence`]: the shutdown sequence, for a program that builds its own server.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::{HookReport, Shutdown};
use crate::config::ShutdownConfig;
use crate::health::HealthRegistry;

type Step = Pin<Box<dyn Future<Output = ()> + Send>>;
type Cut = Pin<Box<dyn Future<Output = usize> + Send>>;
type Stop = Box<dyn FnOnce(Duration) -> Pin<Box<dyn Future<Output = usize> + Send>> + Send>;

/// What a shutdown sequence did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Connections still open at the grace deadline, cut.
    pub cut_connections: usize,
    /// How the hooks ended.
    pub hooks: HookReport,
}

/// The chassis' shutdown sequence, step by step, around whatever server the program runs:
/// the service runtime runs it for its own services, and a program that builds its own
/// server (plain `axum::serve`, a tonic server) runs it the same way.
///
/// [`run`](Self::run) waits for [`Shutdown::trigger`], then: readiness fails and
/// deregistration begins -> `drain_delay`, still serving, deregistration beside it ->
/// [`Shutdown::draining`] fires and the stop step runs, given `grace_period` -> a
/// deregistration still running gets at most `hook_timeout` more -> the hooks in reverse
/// order, each bounded -> the after-hooks step (close what served probes and scrapes).
///
/// ```no_run
/// use std::future::IntoFuture;
/// use chassis::config::ShutdownConfig;
/// use chassis::health::HealthRegistry;
/// use chassis::shutdown::{Sequence, Shutdown, Signals};
///
/// # async fn demo(app: axum::Router) -> std::io::Result<()> {
/// let mut signals = Signals::listen()?;
/// let (shutdown, health) = (Shutdown::new(), HealthRegistry::new());
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
/// let draining = shutdown.clone();
/// let server = tokio::spawn(
///     axum::serve(listener, app)
///         .with_graceful_shutdown(async move { draining.draining().await })
///         .into_future(),
/// );
/// health.mark_started();
/// let trigger = shutdown.clone();
/// tokio::spawn(async move {
///     signals.recv().await;
///     trigger.trigger();
/// });
/// let report = Sequence::new(shutdown, &ShutdownConfig::default())
///     .health(&health)
///     .stop(|grace| async move {
///         // In-flight requests get `grace`; what is left is cut.
///         match tokio::time::timeout(grace, server).await {
///             Ok(_) => 0,
///             Err(_) => 1,
///         }
///     })
///     .run()
///     .await;
/// println!("cut {} connections", report.cut_connections);
/// # Ok(()) }
/// ```
#[must_use]
pub struct Sequence {
    shutdown: Shutdown,
    timing: ShutdownConfig,
    health: Option<HealthRegistry>,
    deregister: Option<Step>,
    stop: Option<Stop>,
    after_hooks: Option<Cut>,
}

impl std::fmt::Debug for Sequence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequence")
            .field("timing", &self.timing)
            .finish_non_exhaustive()
    }
}

impl Sequence {
    /// The sequence of `shutdown`, timed by `timing` (the `shutdown` section).
    pub fn new(shutdown: Shutdown, timing: &ShutdownConfig) -> Self {
        Self {
            shutdown,
            timing: timing.clone(),
            health: None,
            deregister: None,
            stop: None,
            after_hooks: None,
        }
    }

    /// Readiness (and startup) turn to fail at once, for good.
    pub fn health(mut self, health: &HealthRegistry) -> Self {
        self.health = Some(health.clone());
        self
    }

    /// Leaves discovery: begins at the trigger, beside the drain delay, and is given up once
    /// the server has stopped and `hook_timeout` more has passed.
    pub fn deregister(mut self, deregister: impl Future<Output = ()> + Send + 'static) -> Self {
        self.deregister = Some(Box::pin(deregister));
        self
    }

    /// Stops the server after the drain delay: `stop(grace_period)` must stop accepting,
    /// let in-flight work finish within the grace period, cut the rest and return how many
    /// connections it cut.
    pub fn stop<F, Fut>(mut self, stop: F) -> Self
    where
        F: FnOnce(Duration) -> Fut + Send + 'static,
        Fut: Future<Output = usize> + Send + 'static,
    {
        self.stop = Some(Box::new(move |grace| Box::pin(stop(grace))));
        self
    }

    /// Runs after the hooks: closes what kept answering probes and scrapes meanwhile, and
    /// returns how many connections it cut.
    pub fn after_hooks(mut self, step: impl Future<Output = usize> + Send + 'static) -> Self {
        self.after_hooks = Some(Box::pin(step));
        self
    }

    /// Waits for the trigger and runs the sequence to its end.
    pub async fn run(self) -> ShutdownReport {
        let Self {
            shutdown,
            timing,
            health,
            deregister,
            stop,
            after_hooks,
        } = self;
        shutdown.triggered().await;
        if let Some(health) = &health {
            health.mark_stopping();
        }
        // Beside the drain delay, not before it: a slow or unreachable registry holds back
        // nothing.
        let deregistration = deregister.map(tokio::spawn);
        tracing::info!(drain_delay = ?timing.drain_delay, "shutdown: readiness is failing, draining");
        tokio::time::sleep(timing.drain_delay).await;
        shutdown.start_draining();
        let mut cut_connections = match stop {
            Some(stop) => stop(timing.grace_period).await,
            None => 0,
        };
        if cut_connections > 0 {
            tracing::warn!(
                cut_connections,
                grace_period = ?timing.grace_period,
                "shutdown: connections still open at the grace deadline were cut"
            );
        }
        if let Some(deregistration) = deregistration {
            finish(deregistration, timing.hook_timeout).await;
        }
        let hooks = shutdown.hooks().run(timing.hook_timeout).await;
        if let Some(step) = after_hooks {
            cut_connections += step.await;
        }
        tracing::info!("shutdown complete");
        ShutdownReport {
            cut_connections,
            hooks,
        }
    }
}

/// Waits at most `bound` for a deregistration still running once the server has stopped.
async fn finish(deregistration: tokio::task::JoinHandle<()>, bound: Duration) {
    let abort = deregistration.abort_handle();
    if tokio::time::timeout(bound, deregistration).await.is_err() {
        abort.abort();
        tracing::warn!(
            ?bound,
            "shutdown: deregistering from discovery did not finish; the registry drops the \
             instance when its lease expires"
        );
    }
}
