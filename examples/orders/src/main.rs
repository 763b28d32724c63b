//! Runs the orders service: `cargo run -p orders` (catalog expected on 127.0.0.1:8081).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    chassis::service::run::<orders::Orders>().await
}
