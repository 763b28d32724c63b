// `main` asked for (with a value by mistake): one error, and no "`main` function not found".
use axum::Router;
use chassis::service::Context;

#[chassis::service(main = true)]
async fn catalog(_ctx: Context<()>) -> Result<Router, std::io::Error> {
    Ok(Router::new())
}
