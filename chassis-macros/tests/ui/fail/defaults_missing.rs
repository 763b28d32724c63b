// No `config/default.toml` and no `defaults = false`: the file is required, because one
// created after the first build could not be tracked.
use axum::Router;
use chassis::service::Context;

#[chassis::service(name = "hello")]
async fn hello(_ctx: Context<()>) -> Result<Router, std::convert::Infallible> {
    Ok(Router::new())
}

fn main() {}
