use axum::Router;
use chassis::service::Context;

struct Settings;

#[chassis::service(defaults = false)]
async fn catalog(_ctx: Context<Settings>) -> Result<Router, std::io::Error> {
    Ok(Router::new())
}

fn main() {}
