//! [`Simulation`]: the deterministic mode of `chassis::testing`.

mod builder;
mod cluster;
mod host;
mod http;
mod transport;

pub use builder::SimulationBuilder;
pub use cluster::SimulatedCluster;
pub use http::SimulatedReply;
pub(crate) use transport::Connector;

/// The deterministic mode of `chassis::testing` (feature `simulation`): the same services as a
/// [`TestCluster`](super::TestCluster), on a simulated network and clock (turmoil), so a
/// scenario with timeouts, retries and breakers runs in milliseconds of real time and
/// replays exactly from a seed.
///
/// ```
/// use axum::{Router, extract::State, routing::get};
/// use chassis::client::HttpClient;
/// use chassis::service::Context;
/// use chassis::testing::Simulation;
///
/// #[chassis::service(name = "leaf", defaults = false)]
/// async fn leaf(_ctx: Context<()>) -> Result<Router, std::convert::Infallible> {
///     Ok(Router::new().route("/", get(|| async { "leaf" })))
/// }
///
/// #[chassis::service(name = "edge", defaults = false)]
/// async fn edge(ctx: Context<()>) -> Result<Router, chassis::client::ClientBuildError> {
///     let leaf = ctx.client("leaf")?;
///     Ok(Router::new().route("/", get(|State(leaf): State<HttpClient>| async move {
///         match leaf.get("/").send().await {
///             Ok(reply) => reply.text().await.unwrap_or_default(),
///             Err(_) => "fallback".to_owned(),
///         }
///     })).with_state(leaf))
/// }
///
/// # fn main() -> Result<(), chassis::testing::ClusterError> {
/// let answers = Simulation::builder(7)
///     .service::<Leaf>()
///     .service::<Edge>()
///     .run(|sim| async move {
///         let before = sim.get("edge", "/").await?.body;
///         sim.partition("edge", "leaf")?; // edge's calls to leaf now time out
///         let during = sim.get("edge", "/").await?.body;
///         Ok((before, during))
///     })?;
/// assert_eq!(answers, ("leaf".to_owned(), "fallback".to_owned()));
/// # Ok(()) }
/// ```
///
/// # How it works
///
/// Each instance runs on its own simulated host, started by the same
/// [`Launcher`](crate::service::Launcher) as in production and wired by the same in-process
/// registry as a [`TestCluster`](super::TestCluster) (without the proxies: faults are the
/// simulator's). The chassis' transport has one seam for this: inside a simulation the
/// server listens on the simulated network ([`crate::server::Accept`]), the HTTP and gRPC
/// clients connect over it, and breakers read tokio's clock
/// ([`crate::resilience::breaker::TokioClock`]), which the simulator moves, as it moves the
/// clients' latency estimates and their pools' idle expiry. Randomness (retry jitter, ids,
/// the simulator's latencies) comes from the seed.
///
/// What replays is what the services decide: statuses, the headers and bodies they set,
/// breaker states, instance ids, simulated timings. What comes from the system does not:
/// the `date` header, a health report's `time`, the `process_*` metrics; and counters
/// accumulate across runs in one process.
///
/// # Limits
///
/// - Everything runs on the calling thread: [`SimulationBuilder::run`] refuses to start
///   inside a tokio runtime. It seeds the thread's `fastrand` generator for the run and
///   gives back its previous seed after.
/// - Faults are the simulator's: [`SimulatedCluster::partition`] (lost) and
///   [`SimulatedCluster::hold`] (held until released) per pair of services, and the
///   latency range of [`SimulationBuilder::latency`]. Error responses, resets and slow
///   links are the [`TestCluster`](super::TestCluster)'s.
/// - TLS is not simulated: a client with TLS configured fails to build in a simulation.
/// - What runs on threads of its own (the log writer, the metrics exporter's upkeep) runs
///   in real time, and what reads the operating system's clock directly (log timestamps,
///   the `date` header, `Retry-After` dates) sees real time; none of the chassis' decisions
///   reads it.
/// - tokio chooses among ready branches of an unbiased `select!` with a generator this
///   crate cannot seed without `--cfg tokio_unstable`; every `select!` of the chassis that a
///   simulated service runs is biased (a fixed order), so only a service's own can diverge.
#[derive(Debug)]
pub struct Simulation;

impl Simulation {
    /// Declares a simulation replayed from `seed`: the same seed, the same services and the
    /// same test give the same run.
    pub fn builder(seed: u64) -> SimulationBuilder {
        SimulationBuilder::new(seed)
    }
}
