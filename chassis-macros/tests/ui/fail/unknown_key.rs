use axum::Router;
use chassis::service::Context;

#[chassis::service(name = "catalog", port = 8080)]
async fn catalog(_ctx: Context<()>) -> Result<Router, std::io::Error> {
    Ok(Router::new())
}

fn main() {}
