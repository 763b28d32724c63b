//! The one-process demo: catalog, orders and gateway started together, each with its own
//! configuration (files, `CATALOG__...` / `ORDERS__...` / `GATEWAY__...` environment
//! variables), wired by static discovery.

use std::net::SocketAddr;

use chassis::service::{LaunchError, Launcher, Microservice, ServiceHandle};

/// The three running services.
#[derive(Debug)]
pub struct Shop {
    /// The leaf service.
    pub catalog: ServiceHandle,
    /// Places orders, calling catalog.
    pub orders: ServiceHandle,
    /// The public edge.
    pub gateway: ServiceHandle,
}

/// How to start the shop.
#[derive(Debug, Clone, Default)]
pub struct ShopOptions {
    /// Read each service's environment variables and `./config` (the binary does; tests
    /// don't).
    pub from_process: bool,
    /// Bind every service to a free port instead of 8080-8082 (tests).
    pub ephemeral_ports: bool,
    /// Extra settings per service: `(service, key, value)`.
    pub overrides: Vec<(&'static str, String, String)>,
}

impl Shop {
    /// Starts catalog, then orders and gateway pointed at the addresses actually bound.
    ///
    /// # Errors
    ///
    /// When a service fails to start; those already started are shut down.
    pub async fn start(options: &ShopOptions) -> Result<Self, LaunchError> {
        let catalog = launch::<catalog::Catalog>(options, &[]).await?;
        let catalog_addr = local(catalog.addr());
        let orders = match launch::<orders::Orders>(
            options,
            &[("discovery.static.catalog", catalog_addr.clone())],
        )
        .await
        {
            Ok(orders) => orders,
            Err(error) => {
                catalog.shutdown().await;
                return Err(error);
            }
        };
        let gateway = match launch::<gateway::Gateway>(
            options,
            &[
                ("discovery.static.catalog", catalog_addr),
                ("discovery.static.orders", local(orders.addr())),
            ],
        )
        .await
        {
            Ok(gateway) => gateway,
            Err(error) => {
                tokio::join!(catalog.shutdown(), orders.shutdown());
                return Err(error);
            }
        };
        Ok(Self {
            catalog,
            orders,
            gateway,
        })
    }

    /// Stops the edge first, then the services behind it.
    pub async fn shutdown(self) {
        self.gateway.shutdown().await;
        tokio::join!(self.orders.shutdown(), self.catalog.shutdown());
    }
}

/// The address callers in this process should use.
fn local(addr: SocketAddr) -> String {
    format!("127.0.0.1:{}", addr.port())
}

async fn launch<S: Microservice>(
    options: &ShopOptions,
    wiring: &[(&str, String)],
) -> Result<ServiceHandle, LaunchError> {
    let mut launcher = if options.from_process {
        Launcher::<S>::from_process()?
    } else {
        Launcher::<S>::new()?
    };
    // A demo: a short drain keeps Ctrl-C snappy, and fault injection is on for the
    // breaker walk-through; the environment still wins.
    launcher = launcher
        .set_default("shutdown.drain_delay", "250ms")
        .set_default("shutdown.grace_period", "5s")
        .set_default("faults.enabled", true);
    for (key, value) in wiring {
        launcher = launcher.set_default(*key, value);
    }
    if options.ephemeral_ports {
        launcher = launcher
            .set("server.port", 0)
            .set("server.host", "127.0.0.1");
    }
    for (service, key, value) in &options.overrides {
        if *service == S::NAME {
            launcher = launcher.set(key.clone(), value);
        }
    }
    launcher.spawn().await
}
