use axum::Router;
use chassis::service::Context;

const NAME: &str = "catalog";

#[chassis::service(name = NAME)]
async fn catalog(_ctx: Context<()>) -> Result<Router, std::io::Error> {
    Ok(Router::new())
}

fn main() {}
