// The least a service needs: no settings, no defaults file; name and version from the
// package.
use axum::Router;
use chassis::service::{Context, Microservice};

#[chassis::service(defaults = false)]
async fn hello(_ctx: Context<()>) -> Result<Router, Box<dyn std::error::Error + Send + Sync>> {
    Ok(Router::new())
}

fn main() {
    fn is_service<S: Microservice<Config = ()>>() {}
    is_service::<Hello>();
    assert_eq!(Hello::NAME, env!("CARGO_PKG_NAME"));
    assert_eq!(Hello::VERSION, env!("CARGO_PKG_VERSION"));
    assert_eq!(Hello::embedded_defaults(), None);
    // The type is a plain unit struct with the common derives.
    assert_eq!(format!("{:?}", Hello), "Hello");
    assert_eq!(Hello, Hello::default());
}
