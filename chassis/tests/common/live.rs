//! Shared pieces of the live-configuration tests: a watched `default.toml` whose client
//! `upstream` calls one address, and requests to the admin port.

use std::net::SocketAddr;
use std::path::Path;

use chassis::service::ServiceHandle;
use http::{Method, Request};
use http_body_util::Full;

use super::{Reply, body, send};

/// The admin token the services of these tests are started with.
pub const TOKEN: &str = "live-admin-token-0123456789";

/// `default.toml` beginning with `head` (the service's own keys), its client `upstream`
/// calling `addr` with `timeout` and one attempt, polled every 20 ms, with `extra` TOML
/// appended (tables after the top-level keys).
pub fn config_file(head: &str, addr: SocketAddr, timeout: &str, extra: &str) -> String {
    format!(
        r#"{head}

[reload]
poll_interval = "20ms"

[telemetry.log]
level = "warn"

[discovery.static]
upstream = ["{addr}"]

[clients.upstream]
timeout = "{timeout}"

[clients.upstream.retry]
max_attempts = 1
{extra}
"#
    )
}

/// Writes `text` as `dir`'s `default.toml`.
pub fn write(dir: &Path, text: &str) {
    std::fs::write(dir.join("default.toml"), text).unwrap();
}

/// An admin request with the token (or without, when `token` is false).
pub async fn admin(
    handle: &ServiceHandle,
    method: Method,
    path: &str,
    json: Option<&str>,
    token: bool,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", handle.ops_addr()));
    if token {
        request = request.header("authorization", format!("Bearer {TOKEN}"));
    }
    if json.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request.body(json.map_or_else(Full::default, body)).unwrap();
    send(&super::client(), request).await.unwrap()
}
