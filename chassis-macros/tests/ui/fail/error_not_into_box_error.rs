use axum::Router;
use chassis::service::Context;

struct NotAnError;

#[chassis::service(defaults = false)]
async fn catalog(_ctx: Context<()>) -> Result<Router, NotAnError> {
    Ok(Router::new())
}

fn main() {}
