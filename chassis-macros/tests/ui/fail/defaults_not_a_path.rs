use axum::Router;
use chassis::service::Context;

#[chassis::service(defaults = true)]
async fn catalog(_ctx: Context<()>) -> Result<Router, std::io::Error> {
    Ok(Router::new())
}

fn main() {}
