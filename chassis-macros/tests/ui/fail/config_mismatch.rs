use axum::Router;
use chassis::service::Context;

#[derive(serde::Deserialize)]
struct Settings {}

#[derive(serde::Deserialize)]
struct Other {}

#[chassis::service(config = Settings)]
async fn catalog(_ctx: Context<Other>) -> Result<Router, std::io::Error> {
    Ok(Router::new())
}

fn main() {}
