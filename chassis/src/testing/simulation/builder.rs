//! [`SimulationBuilder`]: declares a simulation's services and runs its test.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::super::ClusterError;
use super::super::capture;
use super::super::declared::{Declared, Spec};
use super::super::network::{Network, Wiring};
use super::cluster::SimulatedCluster;
use super::host::{Instance, LaunchFn, Software, launch};
use crate::service::Microservice;

/// The simulator's default step: timers fire and messages arrive on its boundaries.
const DEFAULT_TICK: Duration = Duration::from_millis(10);
/// How much simulated time a test may use unless told otherwise.
const DEFAULT_DURATION: Duration = Duration::from_secs(600);
/// The turmoil host the test runs on.
const TEST_HOST: &str = "test";

/// Declares the services of a [`Simulation`](super::Simulation), in start order (callees
/// before callers), then runs a test against them.
#[derive(Debug)]
#[must_use]
pub struct SimulationBuilder {
    seed: u64,
    declared: Declared<LaunchFn>,
    duration: Duration,
    tick: Duration,
    latency: Option<(Duration, Duration)>,
}

impl SimulationBuilder {
    pub(super) fn new(seed: u64) -> Self {
        Self {
            seed,
            declared: Declared::default(),
            duration: DEFAULT_DURATION,
            tick: DEFAULT_TICK,
            latency: None,
        }
    }

    /// Adds the service `S` with one instance, started from its defaults (no file, no
    /// environment variable), with a short drain delay (100 ms of simulated time).
    pub fn service<S: Microservice>(mut self) -> Self {
        self.declared.add(S::NAME, launch::<S>);
        self
    }

    /// Runs `count` instances of `service` instead of one, each on its own simulated host
    /// (at least one: a simulation has no hosts to scale up later).
    pub fn instances(mut self, service: &str, count: usize) -> Self {
        self.declared.instances(service, count);
        self
    }

    /// Sets a dotted configuration key of `service`, above its defaults, for every instance
    /// and every restart.
    #[allow(clippy::needless_pass_by_value)] // taking values by value reads best at call sites
    pub fn set(mut self, service: &str, key: impl Into<String>, value: impl ToString) -> Self {
        self.declared.set(service, key.into(), value.to_string());
        self
    }

    /// Sets a default for a dotted configuration key of `service`, above its embedded
    /// defaults and the simulation's own (such as the 100 ms drain delay), below
    /// [`set`](Self::set).
    #[allow(clippy::needless_pass_by_value)] // taking values by value reads best at call sites
    pub fn set_default(
        mut self,
        service: &str,
        key: impl Into<String>,
        value: impl ToString,
    ) -> Self {
        self.declared
            .set_default(service, key.into(), value.to_string());
        self
    }

    /// The most simulated time the test may take (default: 10 minutes); past it the run
    /// fails.
    pub fn duration(mut self, limit: Duration) -> Self {
        self.duration = limit;
        self
    }

    /// The simulator's step (default: 10 ms, at least 100 µs): timers fire and messages
    /// arrive on its boundaries. Each step costs real time on every host, so a finer step
    /// is more faithful to timeouts of a few milliseconds and slower to run.
    pub fn tick(mut self, step: Duration) -> Self {
        self.tick = step.max(Duration::from_micros(100));
        self
    }

    /// The range each message's delivery takes on every link, drawn from the seed (default:
    /// turmoil's, 0 to 100 ms, most of them short); a `max` below `min` is taken as `min`.
    pub fn latency(mut self, min: Duration, max: Duration) -> Self {
        self.latency = Some((min, max.max(min)));
        self
    }

    /// Starts every instance in the order the services were added, each ready and
    /// registered before the next, then runs `test` and returns what it returns. Everything
    /// happens on the simulated network and clock, on this thread: timers fire when the
    /// simulation reaches them, not in real time.
    ///
    /// # Errors
    ///
    /// A declaration mistake, an instance that does not start, an error of `test`, or
    /// [`ClusterError::Simulation`] when the simulator stops the run (its time limit, a
    /// panic) or when called inside a tokio runtime (the simulation runs its own, on this
    /// thread: call it from a plain `#[test]`).
    pub fn run<F, Fut, T>(self, test: F) -> Result<T, ClusterError>
    where
        F: FnOnce(SimulatedCluster) -> Fut,
        Fut: Future<Output = Result<T, ClusterError>> + 'static,
        T: 'static,
    {
        let Self {
            seed,
            declared,
            duration,
            tick,
            latency,
        } = self;
        let specs = declared.checked()?;
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(ClusterError::Simulation(
                "a simulation runs its own runtimes on this thread: call run from a plain \
                 #[test], not inside a tokio runtime"
                    .to_owned(),
            ));
        }
        if let Some(spec) = specs.iter().find(|spec| spec.instances == 0) {
            return Err(ClusterError::NoInstance {
                service: spec.name.to_owned(),
                index: 0,
            });
        }
        capture::install();
        // Jitter and ids draw from this thread's generator, which every host runs on; it
        // is given back as it was.
        let thread_seed = fastrand::get_seed();
        fastrand::seed(seed);
        let mut builder = turmoil::Builder::new();
        builder
            .rng_seed(seed)
            .simulation_duration(duration)
            .tick_duration(tick);
        if let Some((min, max)) = latency {
            builder.min_message_latency(min).max_message_latency(max);
        }
        let result = simulate(builder.build(), specs, test);
        fastrand::seed(thread_seed);
        result
    }
}

/// Runs `test` in `sim` against `specs`' instances, started first in order.
fn simulate<F, Fut, T>(
    mut sim: turmoil::Sim<'_>,
    specs: Vec<Spec<LaunchFn>>,
    test: F,
) -> Result<T, ClusterError>
where
    F: FnOnce(SimulatedCluster) -> Fut,
    Fut: Future<Output = Result<T, ClusterError>> + 'static,
    T: 'static,
{
    let network = Network::new(
        specs.iter().map(|spec| spec.name.to_owned()),
        Wiring::Direct,
    );
    let log_marks = specs
        .iter()
        .map(|spec| (spec.name, capture::count(spec.name)))
        .collect();
    let mut instances = BTreeMap::new();
    let mut order = Vec::new();
    for spec in specs {
        let list: Vec<_> = (0..spec.instances)
            .map(|index| Instance::new(spec.name, index))
            .collect();
        for (index, instance) in list.iter().enumerate() {
            let software = Software {
                instance: Arc::clone(instance),
                launch: spec.launch,
                registry: network.registry_for(spec.name),
                defaults: spec.defaults.clone(),
                settings: spec.settings.clone(),
            };
            sim.host(instance.host.as_str(), move || software.clone().run());
            order.push((spec.name, index));
        }
        instances.insert(spec.name.to_owned(), list);
    }
    let cluster = SimulatedCluster {
        network,
        instances: Arc::new(instances),
        log_marks: Arc::new(log_marks),
    };
    let outcome = Rc::new(RefCell::new(None));
    let written = Rc::clone(&outcome);
    let run = test(cluster.clone());
    sim.client(TEST_HOST, async move {
        let result = async {
            for (service, index) in order {
                cluster.start(service, index).await?;
            }
            run.await
        }
        .await;
        *written.borrow_mut() = Some(result);
        Ok(())
    });
    let simulated = sim.run();
    drop(sim);
    let result = outcome.borrow_mut().take();
    match (simulated, result) {
        (_, Some(result)) => result,
        (Err(error), None) => Err(ClusterError::Simulation(error.to_string())),
        (Ok(()), None) => Err(ClusterError::Simulation(
            "the test ended without a result".to_owned(),
        )),
    }
}
