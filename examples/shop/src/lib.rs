//! The one-process demo: catalog, orders and gateway started together by
//! [`chassis::testing`]'s cluster, the same code that starts them in the shop's tests.
//!
//! The binary starts them [`from_process`](chassis::testing::ClusterBuilder::from_process):
//! each service reads its own configuration as if it ran alone (`./config` or
//! `APP_CONFIG_DIR`, `APP_PROFILE`, `CATALOG__...` / `ORDERS__...` / `GATEWAY__...`
//! environment variables) and listens where it says (127.0.0.1: 8081, 8082, 8080 by
//! default; loopback is the demo's default, below files and environment). Tests
//! start them from their embedded defaults on free loopback ports.
//!
//! Discovery is the cluster's, in the process: each instance registers there when ready and
//! callers are handed its own address ([`direct`](chassis::testing::ClusterBuilder::direct)
//! wiring). The `discovery` section of the configuration (`ORDERS__DISCOVERY__STATIC__CATALOG`
//! and the like) does not wire the demo; `discovery.advertise` still sets the address a
//! service is reached at (by default the bound one, or this host's for `0.0.0.0`).

use std::time::Duration;

use chassis::service::ServiceHandle;
use chassis::testing::{ClusterBuilder, ClusterError, TestCluster};

/// The shop's services, in start order: callees first.
pub const SERVICES: [&str; 3] = ["catalog", "orders", "gateway"];

/// The three running services: one instance each, wired directly.
#[derive(Debug)]
pub struct Shop {
    cluster: TestCluster,
}

/// How to start the shop.
#[derive(Debug, Clone, Default)]
pub struct ShopOptions {
    /// Configure each service as a deployed process (its files, profile and environment
    /// variables; the ports they say): the binary does. Otherwise each starts from its
    /// embedded defaults on a free loopback port: tests.
    pub from_process: bool,
    /// Environment variables read besides the process's (and winning over them), such as
    /// `CATALOG__SERVER__PORT`: a test's seam instead of the process environment.
    pub env: Vec<(String, String)>,
    /// Extra settings per service, above every other source: `(service, key, value)`.
    pub overrides: Vec<(&'static str, String, String)>,
}

impl Shop {
    /// The shop's cluster, declared and not started: the three services with the demo's
    /// defaults and `options`, wired through link proxies (where a test puts faults) until
    /// [`direct`](ClusterBuilder::direct) is added, as [`start`](Self::start) does.
    pub fn builder(options: &ShopOptions) -> ClusterBuilder {
        let mut builder = TestCluster::builder()
            .service::<catalog::Catalog>()
            .service::<orders::Orders>()
            .service::<gateway::Gateway>()
            // A deployed configuration may take longer to become ready than a test's.
            .ready_within(Duration::from_mins(1))
            .env(options.env.iter().cloned());
        if options.from_process {
            builder = builder.from_process();
        }
        for service in SERVICES {
            // A demo: on loopback only (and so reached there by the other services: they
            // are handed the bound address), a short drain keeps Ctrl-C snappy, and fault
            // injection is on for the breaker walk-through. Files and the environment still
            // win (`GATEWAY__SERVER__HOST=0.0.0.0` to show the demo to another machine).
            builder = builder
                .set_default(service, "server.host", "127.0.0.1")
                .set_default(service, "shutdown.drain_delay", "250ms")
                .set_default(service, "shutdown.grace_period", "5s")
                .set_default(service, "faults.enabled", true);
        }
        for (service, key, value) in &options.overrides {
            builder = builder.set(service, key.clone(), value);
        }
        builder
    }

    /// Starts catalog, orders and gateway in that order, each ready and registered before
    /// the next, callers handed each instance's own address.
    ///
    /// # Errors
    ///
    /// When a service fails to start ([`ClusterError::Launch`], for example a port in use);
    /// those already started are shut down.
    pub async fn start(options: &ShopOptions) -> Result<Self, ClusterError> {
        let cluster = Self::builder(options).direct().start().await?;
        Ok(Self { cluster })
    }

    /// The leaf service.
    pub fn catalog(&self) -> &ServiceHandle {
        self.service("catalog")
    }

    /// Places orders, calling catalog.
    pub fn orders(&self) -> &ServiceHandle {
        self.service("orders")
    }

    /// The public edge.
    pub fn gateway(&self) -> &ServiceHandle {
        self.service("gateway")
    }

    fn service(&self, name: &str) -> &ServiceHandle {
        // A shop cannot stop or scale its services: each keeps its one instance.
        self.cluster
            .instance(name, 0)
            .unwrap_or_else(|error| unreachable!("{error}"))
    }

    /// The cluster the shop runs in: health, metrics and links (which, wired directly,
    /// carry no fault).
    pub fn cluster(&self) -> &TestCluster {
        &self.cluster
    }

    /// Stops the edge first, then the services behind it.
    pub async fn shutdown(self) {
        self.cluster.shutdown().await;
    }
}
