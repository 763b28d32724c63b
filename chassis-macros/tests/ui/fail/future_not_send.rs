use std::rc::Rc;

use axum::Router;
use chassis::service::Context;

#[chassis::service(defaults = false)]
async fn catalog(_ctx: Context<()>) -> Result<Router, std::io::Error> {
    let local = Rc::new(());
    tokio::task::yield_now().await;
    drop(local);
    Ok(Router::new())
}

fn main() {}
