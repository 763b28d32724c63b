//! [`SimulatedReply`] and the plain HTTP/1.1 exchange a simulation's test makes with its services.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use super::super::ClusterError;

/// An answer a service gave the test. Its `date` header is the system clock's, not the
/// simulation's: compare the parts a service decides (status, its own headers, body).
#[derive(Debug, Clone)]
pub struct SimulatedReply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, as text (lossy).
    pub body: String,
}

impl SimulatedReply {
    /// The value of header `name` as text, if present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Sends `request` to `addr` over a new simulated connection and reads the whole answer,
/// within `bound` of simulated time.
pub(super) async fn exchange(
    addr: SocketAddr,
    request: Request<Bytes>,
    bound: Duration,
) -> Result<SimulatedReply, ClusterError> {
    let url = format!("{} http://{addr}{}", request.method(), request.uri());
    let failed = |message: String| ClusterError::Endpoint {
        url: url.clone(),
        message,
    };
    let uri = request.uri();
    if uri.scheme().is_some() || uri.authority().is_some() || !uri.path().starts_with('/') {
        return Err(failed(
            "the request's URI must be a path such as /api/items: the service is chosen by name"
                .to_owned(),
        ));
    }
    let read = async {
        let stream = turmoil::net::TcpStream::connect(addr)
            .await
            .map_err(|error| error.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| error.to_string())?;
        tokio::spawn(connection);
        let (parts, body) = request.into_parts();
        let mut request = Request::from_parts(parts, Full::new(body));
        request.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_str(&addr.to_string()).map_err(|e| e.to_string())?,
        );
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| error.to_string())?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|error| error.to_string())?
            .to_bytes();
        Ok::<_, String>(SimulatedReply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    match tokio::time::timeout(bound, read).await {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(message)) => Err(failed(message)),
        Err(_) => Err(failed(format!("no answer within {bound:?} (simulated)"))),
    }
}
