//! A service declared with `#[chassis::service]` runs under `chassis::service::spawn` and
//! reports the declared name and version on `GET /info`, over real loopback HTTP.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use chassis::service::{Context, Microservice, ServiceHandle, spawn};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

/// Typed settings, to show that `Context<C>` carries them through.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Settings {
    greeting: String,
}

#[chassis::service(name = "spawned-info", version = "3.2.1-test", defaults = false)]
async fn greeter(ctx: Context<Settings>) -> Result<Router, Infallible> {
    let greeting = ctx.config().greeting.clone();
    Ok(Router::new().route("/greet", get(move || async move { greeting })))
}

/// No name or version: the package's.
#[chassis::service(defaults = false)]
async fn packaged(_ctx: Context<()>) -> Result<Router, Infallible> {
    Ok(Router::new())
}

/// `GET http://{addr}{path}`: status and body.
async fn get_text(addr: SocketAddr, path: &str) -> (u16, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri = format!("http://{addr}{path}").parse().expect("a valid uri");
    let response = client.get(uri).await.expect("the request succeeds");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the body is read")
        .to_bytes();
    let body = String::from_utf8(body.to_vec()).expect("a utf-8 body");
    (status, body)
}

async fn info(handle: &ServiceHandle) -> serde_json::Value {
    let (status, body) = get_text(handle.ops_addr(), "/info").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("/info answers json")
}

/// Shuts the service down and checks that its port no longer answers.
async fn stop(handle: ServiceHandle) {
    let addr = handle.addr();
    let report = handle.shutdown().await;
    assert_eq!(report.cut_connections, 0);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn info_shows_the_declared_name_and_version() {
    let handle = spawn::<Greeter>([
        ("server.host", "127.0.0.1"),
        ("server.port", "0"),
        ("shutdown.drain_delay", "0s"),
        ("greeting", "hello from the macro"),
    ])
    .await
    .expect("the service starts");
    assert!(handle.addr().ip().is_loopback());

    let info = info(&handle).await;
    assert_eq!(info["name"], "spawned-info");
    assert_eq!(info["version"], "3.2.1-test");
    assert!(!info["instance_id"].as_str().unwrap_or_default().is_empty());

    let (status, body) = get_text(handle.addr(), "/greet").await;
    assert_eq!((status, body.as_str()), (200, "hello from the macro"));

    stop(handle).await;
}

#[tokio::test]
async fn info_defaults_to_the_package_name_and_version() {
    assert_eq!(Packaged::NAME, "chassis-macros");
    let handle = spawn::<Packaged>([
        ("server.host", "127.0.0.1"),
        ("server.port", "0"),
        ("shutdown.drain_delay", "0s"),
    ])
    .await
    .expect("the service starts");

    let info = info(&handle).await;
    assert_eq!(info["name"], env!("CARGO_PKG_NAME"));
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));

    stop(handle).await;
}
