// An attribute that does not parse, with `main`: one error, on the unknown key.
use axum::Router;
use chassis::service::Context;

#[chassis::service(main, nmae = "hello")]
async fn hello(_ctx: Context<()>) -> Result<Router, std::convert::Infallible> {
    Ok(Router::new())
}
