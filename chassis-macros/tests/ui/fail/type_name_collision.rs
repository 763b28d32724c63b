#![allow(non_snake_case)]
use axum::Router;
use chassis::service::Context;

#[chassis::service]
async fn Catalog(_ctx: Context<()>) -> Result<Router, std::io::Error> {
    Ok(Router::new())
}

fn main() {}
