//! The one-command demo: `cargo run -p shop` runs catalog (8081), orders (8082) and gateway
//! (8080) in one process, started by `chassis::testing`'s cluster (the code the shop's tests
//! use) with discovery in the process: each caller is handed the instances' own addresses.
//!
//! Every service reads its own configuration files and environment variables as if it ran
//! alone (`CATALOG__SERVER__PORT=18081 cargo run -p shop`; its callers follow); its
//! `discovery` section (`ORDERS__DISCOVERY__STATIC__CATALOG`) does not wire the demo.
//! `SHOP_CATALOG_FAULTS=1.0` starts the catalog failing that share of its requests; the
//! admin port of each service (catalog 9081, bound to 127.0.0.1) changes faults while it
//! runs, with the admin token the demo prints (`SHOP_ADMIN_TOKEN` to choose it; a fresh
//! random one otherwise). Ctrl-C or SIGTERM stops them all gracefully, callers first; a
//! second signal exits at once.

use std::io::Write as _;
use std::process::ExitCode;

use shop::{Shop, ShopOptions};

/// Admin ports of the demo, so `/admin/faults` can be changed while it runs.
const ADMIN_PORTS: [(&str, u16); 3] = [("catalog", 9081), ("orders", 9082), ("gateway", 9080)];

#[tokio::main]
async fn main() -> ExitCode {
    // Listening first: no signal is lost while the services start.
    let mut signals = match chassis::shutdown::Signals::listen() {
        Ok(signals) => signals,
        Err(error) => {
            let _ = writeln!(
                std::io::stderr(),
                "shop: cannot listen for signals: {error}"
            );
            return ExitCode::FAILURE;
        }
    };
    let mut options = ShopOptions {
        from_process: true,
        ..ShopOptions::default()
    };
    let token = std::env::var("SHOP_ADMIN_TOKEN")
        .ok()
        .filter(|token| !token.is_empty())
        .unwrap_or_else(|| {
            String::from_utf8_lossy(chassis::server::random_id().as_bytes()).into_owned()
        });
    for (service, port) in ADMIN_PORTS {
        let prefix = service.to_ascii_uppercase();
        for (key, value) in [
            ("admin_port", port.to_string()),
            ("admin_host", "127.0.0.1".to_owned()),
            ("admin_token", token.clone()),
        ] {
            if std::env::var_os(format!("{prefix}__SERVER__{}", key.to_ascii_uppercase())).is_none()
            {
                options
                    .overrides
                    .push((service, format!("server.{key}"), value));
            }
        }
    }
    if let Ok(rate) = std::env::var("SHOP_CATALOG_FAULTS") {
        options
            .overrides
            .push(("catalog", "faults.error_rate".into(), rate));
    }
    let shop = match Shop::start(&options).await {
        Ok(shop) => shop,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "shop: {error}");
            return ExitCode::FAILURE;
        }
    };
    print_welcome(&shop, &token);
    // A second signal, however close to the first, exits at once with 130.
    let _ = signals.recv().await;
    println!("\nshop: stopping (Ctrl-C again to exit at once)");
    shop.shutdown().await;
    println!("shop: stopped");
    ExitCode::SUCCESS
}

fn print_welcome(shop: &Shop, token: &str) {
    let url = |addr: std::net::SocketAddr| format!("http://127.0.0.1:{}", addr.port());
    let g = url(shop.gateway().addr());
    let c = url(shop.catalog().addr());
    let o = url(shop.orders().addr());
    let ops = |h: &chassis::service::ServiceHandle| url(h.ops_addr());
    let (ga, ca) = (ops(shop.gateway()), ops(shop.catalog()));
    println!(
        "\nshop is running:\n\
         \x20 gateway {g}   (health, metrics: {ga})\n\
         \x20 catalog {c}   (health, metrics: {ca})\n\
         \x20 orders  {o}   (health, metrics: {})\n\
         \x20 catalog gRPC 127.0.0.1:{cp}   (catalog.v1.Catalog, health, reflection: catalog's port)\n\n\
         Try:\n\
         \x20 curl {g}/api/items\n\
         \x20 curl -i -X POST {g}/api/orders -H 'content-type: application/json' \\\n\
         \x20      -H 'idempotency-key: demo-1' -d '{{\"lines\":[{{\"item_id\":\"espresso\",\"quantity\":2}}]}}'\n\
         \x20      (run it twice: the same key gives the same order id)\n\
         \x20 curl {g}/api/orders/ord-000001\n\
         \x20 grpcurl -plaintext -d '{{\"id\":\"espresso\"}}' 127.0.0.1:{cp} catalog.v1.Catalog/GetItem\n\
         \x20 grpcurl -plaintext 127.0.0.1:{cp} grpc.health.v1.Health/Check\n\
         \x20 (orders prices over HTTP here; ORDERS__CATALOG_API=grpc cargo run -p shop prices over gRPC)\n\n\
         Watch the circuit breaker (the admin endpoints need the demo's admin token):\n\
         \x20 export TOKEN={token}\n\
         \x20 curl -X PUT {ca}/admin/faults -H \"authorization: Bearer $TOKEN\" -d '{{\"error_rate\":1.0}}'   # catalog fails every request\n\
         \x20 for i in $(seq 10); do curl -s -o /dev/null -w '%{{http_code}} ' {g}/api/items; done\n\
         \x20 curl -s {ga}/metrics | grep 'chassis_breaker_state{{client=\"catalog\"'\n\
         \x20 curl -i {g}/api/items                                    # x-fallback: catalog-unavailable\n\
         \x20 curl -X PUT {ca}/admin/faults -H \"authorization: Bearer $TOKEN\" -d '{{}}'   # heal; the breaker closes after 5s\n\n\
         Press Ctrl-C to stop.\n",
        ops(shop.orders()),
        cp = shop.catalog().addr().port(),
    );
}
