// With `main` asked for, a mistake gives exactly its own error: no "`main` function not
// found" after it (the macro still emits a `main`).
use axum::Router;
use chassis::service::Context;

#[chassis::service(name = "hello", main, defaults = false)]
async fn hello(_ctx: Context<()>) -> Router {
    Router::new()
}
