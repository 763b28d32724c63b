//! The one-command demo: `cargo run -p shop` runs the example services in one process.
//!
//! Every service reads its own environment variables as if it ran alone
//! (`CATALOG__SERVER__PORT=9081 cargo run -p shop`). Ctrl-C stops them all gracefully; a
//! second Ctrl-C exits at once.

use std::io::Write as _;
use std::process::ExitCode;

use chassis::service::{LaunchError, Launcher, Microservice, ServiceHandle};

#[tokio::main]
async fn main() -> ExitCode {
    match serve().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "shop: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), LaunchError> {
    let catalog = launch::<catalog::Catalog>().await?;
    print_welcome(&catalog);

    let _ = chassis::shutdown::wait_for_signal().await;
    println!("\nshop: stopping (Ctrl-C again to exit at once)");
    tokio::spawn(async {
        if chassis::shutdown::wait_for_signal().await.is_ok() {
            std::process::exit(130);
        }
    });
    catalog.shutdown().await;
    println!("shop: stopped");
    Ok(())
}

/// The shop is a demo: a short drain delay keeps Ctrl-C snappy. Each service's environment
/// variables still win (`CATALOG__SHUTDOWN__DRAIN_DELAY=5s`).
async fn launch<S: Microservice>() -> Result<ServiceHandle, LaunchError> {
    Launcher::<S>::from_process()?
        .set_default("shutdown.drain_delay", "250ms")
        .set_default("shutdown.grace_period", "5s")
        .spawn()
        .await
}

fn print_welcome(catalog: &ServiceHandle) {
    let c = format!("http://127.0.0.1:{}", catalog.addr().port());
    println!(
        "\nshop is running: catalog on {c}\n\n\
         Try:\n\
         \x20 curl {c}/items\n\
         \x20 curl {c}/items/espresso\n\
         \x20 curl -i {c}/items/nope          # 404, application/problem+json\n\
         \x20 curl {c}/health/ready\n\
         \x20 curl {c}/info\n\n\
         Press Ctrl-C to stop.\n"
    );
}
