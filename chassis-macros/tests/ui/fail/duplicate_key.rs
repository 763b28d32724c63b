use axum::Router;
use chassis::service::Context;

#[chassis::service(name = "catalog", version = "1.0.0", name = "items")]
async fn catalog(_ctx: Context<()>) -> Result<Router, std::io::Error> {
    Ok(Router::new())
}

fn main() {}
