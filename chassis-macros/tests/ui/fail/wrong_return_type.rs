use axum::Router;
use chassis::service::Context;

#[chassis::service]
async fn catalog(_ctx: Context<()>) -> Router {
    Router::new()
}

fn main() {}
