//! A plain HTTP GET to a service's operational endpoints.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::ClusterError;

/// How long reading an operational endpoint may take.
const BOUND: Duration = Duration::from_secs(10);

/// `GET http://{addr}{path}`: the status and the body as text.
pub(crate) async fn get(
    addr: SocketAddr,
    path: &str,
) -> Result<(StatusCode, String), ClusterError> {
    let url = format!("http://{addr}{path}");
    let failed = |message: String| ClusterError::Endpoint {
        url: url.clone(),
        message,
    };
    let request = http::Request::get(&url)
        .body(Empty::<Bytes>::new())
        .map_err(|error| failed(error.to_string()))?;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let read = async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok::<_, String>((status, String::from_utf8_lossy(&body).into_owned()))
    };
    match tokio::time::timeout(BOUND, read).await {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(message)) => Err(failed(message)),
        Err(_) => Err(failed(format!("no answer within {BOUND:?}"))),
    }
}
