//! Runs the catalog service: `cargo run -p catalog`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    chassis::service::run::<catalog::Catalog>().await
}
