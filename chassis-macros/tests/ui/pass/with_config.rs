// Settings from `Context<C>`, repeated (identically) in the `config` key; a custom name and
// version; a string error; fully qualified paths; a snake_case function name.
use chassis::service::Microservice;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub greeting: String,
}

#[chassis::service(name = "order-service2", version = "2.1.0-rc.1", config = Settings, defaults = false)]
pub async fn order_service(
    ctx: chassis::service::Context<Settings>,
) -> ::core::result::Result<axum::Router<()>, String> {
    if ctx.config().greeting == "fail" {
        return Err("told to fail".to_owned());
    }
    Ok(axum::Router::new())
}

fn main() {
    fn is_service<S: Microservice<Config = Settings>>() {}
    is_service::<OrderService>();
    assert_eq!(OrderService::NAME, "order-service2");
    assert_eq!(OrderService::VERSION, "2.1.0-rc.1");
    // The function stays callable as written.
    let _: fn(chassis::service::Context<Settings>) -> _ = order_service;
}
