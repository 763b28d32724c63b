// `main` generates `fn main` on a multi-thread runtime that calls `chassis::service::run`.
// `run` loads configuration, then calls the service function: exiting there proves the whole
// path without binding a port.
use axum::Router;
use chassis::service::Context;

#[chassis::service(name = "hello", main, defaults = false)]
async fn hello(_ctx: Context<()>) -> Result<Router, std::convert::Infallible> {
    let flavor = tokio::runtime::Handle::current().runtime_flavor();
    let code = if flavor == tokio::runtime::RuntimeFlavor::MultiThread { 0 } else { 3 };
    std::process::exit(code);
}
