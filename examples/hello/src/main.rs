//! hello: the first service of the README and the guide: typed settings, a readiness check,
//! a JSON route and a decoded call to catalog. `cargo run -p catalog` (port 8081) and
//! `cargo run -p hello` (port 8090), then `curl localhost:8090/hello/espresso`.
use chassis::prelude::*;

#[derive(serde::Deserialize)]
struct Settings {
    greeting: String, // HELLO__GREETING=hi, or config/default.toml
}

#[derive(serde::Deserialize)]
struct Item {
    name: String,
}

#[chassis::service(main)]
async fn hello(ctx: Context<Settings>) -> Result<Router, ClientBuildError> {
    let (catalog, greeting) = (ctx.client("catalog")?, ctx.config().greeting.clone());
    ctx.health().readiness("catalog", catalog.check());
    let hello = move |Path(id): Path<String>| async move {
        let route = Route::new("/items/{id}").param("id", id);
        let item: Item = catalog.get(route).send().await?.json().await?; // 502/504 on failure
        Ok::<_, ClientError>(Json(format!("{greeting}, {}!", item.name)))
    };
    Ok(Router::new().route("/hello/{id}", get(hello)))
}
