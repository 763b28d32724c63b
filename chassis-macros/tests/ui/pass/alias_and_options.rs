// A `Result` alias with one argument, a raw identifier, `defaults = false`, `pub(crate)`,
// `#[cfg]` carried to the generated items, and the `config` key written as a path.
mod service {
    use chassis::service::Context;

    pub type Result<T> = std::result::Result<T, std::io::Error>;

    pub(crate) mod settings {
        #[derive(Debug, serde::Deserialize)]
        pub struct Settings {}
    }

    #[chassis::service(defaults = false, config = settings::Settings)]
    pub(crate) async fn r#type(_ctx: Context<settings::Settings>) -> Result<axum::Router> {
        Ok(axum::Router::new())
    }

    #[cfg(any())]
    #[chassis::service(name = "never", defaults = false)]
    pub(crate) async fn never(_ctx: Context<()>) -> Result<axum::Router> {
        Ok(axum::Router::new())
    }
}

use chassis::service::Microservice;

fn main() {
    assert_eq!(<service::Type as Microservice>::embedded_defaults(), None);
    assert_eq!(service::Type::NAME, env!("CARGO_PKG_NAME"));
}
