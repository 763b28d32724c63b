//! Procedural macros of `chassis`. Use them through the `chassis` crate: `#[chassis::service]`.

mod args;
mod defaults;
mod expand;
mod service;
mod signature;

use proc_macro::TokenStream;

/// Declares a service: turns `async fn NAME(ctx: Context<C>) -> Result<Router, E>` into a type
/// implementing `chassis::service::Microservice`, and optionally the program's `fn main`.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use chassis::service::Context;
/// use serde::Deserialize;
///
/// /// The greeter's own settings: `greeting = "..."` in `config/default.toml`,
/// /// or `GREETER__GREETING=...` in the environment.
/// #[derive(Debug, Default, Deserialize)]
/// #[serde(default)]
/// struct Settings {
///     greeting: String,
/// }
///
/// /// Builds the greeter's routes. The macro adds the type `Greeter` and `fn main`.
/// #[chassis::service(name = "greeter", main, defaults = false)]
/// async fn greeter(ctx: Context<Settings>) -> Result<Router, std::convert::Infallible> {
///     let greeting = ctx.config().greeting.clone();
///     Ok(Router::new().route("/", get(move || async move { greeting })))
/// }
/// ```
///
/// The same declaration serves a binary (`main`, or `chassis::service::run::<Greeter>()`) and
/// tests or launchers that run several services in one process
/// (`chassis::service::spawn::<Greeter>([("server.port", "0")])`). The function itself stays
/// as written, so tests can also call it directly.
///
/// # Keys
///
/// | key | value | default |
/// |---|---|---|
/// | `name` | the service name: lowercase letters, digits and `-`, starting with a letter (it names the `{NAME}__SECTION__KEY` environment variables and the discovery keys) | the package name, `env!("CARGO_PKG_NAME")`, checked when the crate compiles |
/// | `version` | a string shown by `GET /info` | the package version, `env!("CARGO_PKG_VERSION")` |
/// | `config` | the settings type; optional, since the parameter `Context<C>` already names it, but when given it must be written the same way | `C` of the parameter |
/// | `defaults` | a TOML file, relative to the package root, compiled in as the service's default settings (checked: not TOML fails the build with its line); `false` for none | `config/default.toml`, which must then exist (an empty file will do) |
/// | `main` | flag: also generate `fn main` | no `main` |
///
/// The function must be a free `async fn` with one parameter, the service
/// `Context<C>` (`chassis::service::Context`), returning `Result<Router, E>` where `Router` is
/// `axum::Router` (state already provided) and `E: Into<BoxError>` (any `std::error::Error +
/// Send + Sync`, `String`, `anyhow::Error`, ...). Its future must be `Send`. No generics, no
/// `self`, no `unsafe`. Every violation fails the build with an error on the offending token.
///
/// # Expansion
///
/// Nothing a user could not write by hand: the attribute on
/// `pub async fn catalog(ctx: Context<CatalogConfig>) -> Result<Router, E>` with `main` emits,
/// besides the function (unchanged but for `#[allow(clippy::unused_async)]`: a service
/// function without `.await` must stay `async`); `__private` re-exports the public items named
/// in comments:
///
/// ```text
/// /// The `catalog` service, declared with `#[chassis::service]` on `fn catalog`: ...
/// #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
/// pub struct Catalog;                       // fn name in UpperCamelCase, the fn's visibility
///
/// impl ::chassis::__private::Microservice for Catalog {   // chassis::service::Microservice
///     type Config = CatalogConfig;
///     const NAME: &'static str = "catalog";              // or env!("CARGO_PKG_NAME")
///     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
///     fn embedded_defaults() -> Option<&'static str> {   // unless `defaults = false`
///         Some(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml")))
///     }
///     async fn router(ctx: Context<Self::Config>) -> Result<Router, BoxError> {
///         catalog(ctx).await.map_err(Into::into)
///     }
/// }
///
/// // Only without `name`: the package name must be a valid service name.
/// const _: () = assert!(::chassis::__private::is_valid_service_name(<Catalog as Microservice>::NAME), "...");
///
/// fn main() -> std::process::ExitCode {                  // only with `main`
///     match ::chassis::__private::tokio::runtime::Builder::new_multi_thread().enable_all().build() {
///         Ok(runtime) => runtime.block_on(::chassis::__private::run::<Catalog>()),  // chassis::service::run
///         Err(error) => { eprintln!("error: cannot start the tokio runtime: {error}"); ExitCode::FAILURE }
///     }
/// }
/// ```
///
/// `#[cfg]` attributes of the function are repeated on every generated item. When the
/// attribute is misused the function is still emitted as written, next to the errors (and,
/// with `main`, an empty `fn main`), so editors keep working and the only errors shown are
/// the ones that point at the mistake.
///
/// # The defaults file
///
/// `config/default.toml` (or the `defaults` path) is embedded with `include_str!` and
/// checked when the macro expands: a file that is not TOML fails the build with its path,
/// line and column, and a change to it rebuilds the crate. It must exist unless
/// `defaults = false` (an empty file will do): a file created after the first build could
/// not be seen, as a stable proc-macro cannot ask to re-run when a file appears.
#[proc_macro_attribute]
pub fn service(args: TokenStream, item: TokenStream) -> TokenStream {
    service::service(args.into(), item.into()).into()
}
