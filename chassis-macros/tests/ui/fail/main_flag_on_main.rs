use axum::Router;
use chassis::service::Context;

#[chassis::service(main)]
async fn main(_ctx: Context<()>) -> Result<Router, std::io::Error> {
    Ok(Router::new())
}
