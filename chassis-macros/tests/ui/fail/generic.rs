use axum::Router;
use chassis::service::Context;

#[chassis::service]
async fn catalog<C: Send + Sync>(_ctx: Context<C>) -> Result<Router, std::io::Error> {
    Ok(Router::new())
}

fn main() {}
