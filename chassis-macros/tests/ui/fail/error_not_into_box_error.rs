use axum::Router;
use chassis::service::Context;

struct NotAnError;

#[chassis::service]
async fn catalog(_ctx: Context<()>) -> Result<Router, NotAnError> {
    Ok(Router::new())
}

fn main() {}
