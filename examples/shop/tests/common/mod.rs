//! Shared pieces of the shop's end-to-end tests.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use shop::{Shop, ShopOptions};

pub const BOUND: Duration = Duration::from_secs(30);

/// An order of two bags of espresso beans.
pub const TWO_ESPRESSO: &str = r#"{"lines":[{"item_id":"espresso","quantity":2}]}"#;

/// The value of `chassis_breaker_state{client="catalog",state="<state>",...}` in a
/// service's `/metrics` (each shows its own breakers, labelled with the service last).
pub fn breaker_state(metrics: &str, state: &str) -> Option<f64> {
    let series = format!("chassis_breaker_state{{client=\"catalog\",state=\"{state}\"");
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(&series)?;
        rest.rsplit_once("} ")?.1.trim().parse().ok()
    })
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

pub async fn call(request: Request<Full<Bytes>>) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    call(
        Request::get(format!("http://{addr}{path}"))
            .body(Full::default())
            .unwrap(),
    )
    .await
}

pub async fn post_order(addr: SocketAddr, body: &str, key: Option<&str>) -> Reply {
    let mut request = Request::post(format!("http://{addr}/api/orders"))
        .header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    call(
        request
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap(),
    )
    .await
}

/// The options of the shop's tests: quick breaker timing, quiet logs; the rest is each
/// example's own configuration, on free loopback ports.
pub fn options() -> ShopOptions {
    ShopOptions {
        overrides: vec![
            (
                "gateway",
                "clients.catalog.breaker.wait_in_open".into(),
                "300ms".into(),
            ),
            (
                "gateway",
                "clients.catalog.outlier.wait_in_open".into(),
                "300ms".into(),
            ),
            ("gateway", "telemetry.log.level".into(), "warn".into()),
            ("orders", "telemetry.log.level".into(), "warn".into()),
            ("catalog", "telemetry.log.level".into(), "warn".into()),
        ],
        ..ShopOptions::default()
    }
}

/// The shop as the demo starts it (wired directly), with the tests' [`options`].
pub async fn shop() -> Shop {
    Shop::start(&options()).await.unwrap()
}
