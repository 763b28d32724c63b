use axum::Router;
use chassis::service::Context;

#[derive(Clone)]
struct AppState;

#[chassis::service]
async fn catalog(_ctx: Context<()>) -> Result<Router<AppState>, std::io::Error> {
    Ok(Router::new())
}

fn main() {}
