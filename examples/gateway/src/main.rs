//! Runs the gateway: `cargo run -p gateway` (catalog on 8081 and orders on 8082 expected).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    chassis::service::run::<gateway::Gateway>().await
}
