use axum::Router;
use chassis::service::Context;

#[chassis::service]
async fn catalog(_ctx: Context<()>, _port: u16) -> Result<Router, std::io::Error> {
    Ok(Router::new())
}

fn main() {}
