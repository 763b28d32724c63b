//! [`Reply`]: a dependency's answer, read as JSON, text or bytes with a size bound.

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;

use super::ClientError;

/// The largest body [`Reply::json`], [`Reply::text`] and [`Reply::bytes`] read unless told
/// otherwise with [`Reply::limit`].
pub const DEFAULT_BODY_LIMIT: usize = 2 << 20;

/// The answer to a call: its status and headers at once, its body when read.
///
/// Reading the body as JSON, text or bytes checks the status first: an answer that is not a
/// success is an error of kind [`Status`](super::ClientErrorKind::Status) (its body is not
/// read). Read it anyway with [`into_response`](Self::into_response).
///
/// ```no_run
/// # async fn demo(catalog: chassis::client::HttpClient) -> Result<(), chassis::client::ClientError> {
/// use chassis::client::Route;
///
/// #[derive(serde::Deserialize)]
/// struct Item { name: String }
///
/// let item: Item = catalog.get(Route::new("/items/{id}").param("id", "espresso")).send().await?.json().await?;
/// # let _ = item.name; Ok(()) }
/// ```
#[derive(Debug)]
pub struct Reply {
    service: std::sync::Arc<str>,
    response: Response<Body>,
    limit: usize,
}

impl Reply {
    pub(crate) fn new(service: std::sync::Arc<str>, response: Response<Body>) -> Self {
        Self {
            service,
            response,
            limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    /// The largest body the reading methods accept (default [`DEFAULT_BODY_LIMIT`]).
    #[must_use]
    pub fn limit(mut self, bytes: usize) -> Self {
        self.limit = bytes;
        self
    }

    /// The reply itself when its status is a success (2xx), else an error of kind
    /// [`Status`](super::ClientErrorKind::Status).
    ///
    /// # Errors
    ///
    /// When the status is not a success.
    pub fn error_for_status(self) -> Result<Self, ClientError> {
        if self.status().is_success() {
            Ok(self)
        } else {
            Err(ClientError::status(&self.service, self.status()))
        }
    }

    /// The body, decoded as JSON.
    ///
    /// # Errors
    ///
    /// A non-success status ([`Status`](super::ClientErrorKind::Status)); a body larger than
    /// the limit, cut, or not JSON of type `T` ([`Body`](super::ClientErrorKind::Body)).
    pub async fn json<T: DeserializeOwned>(self) -> Result<T, ClientError> {
        let (service, status, bytes) = self.read().await?;
        serde_json::from_slice(&bytes).map_err(|error| ClientError::body(&service, status, error))
    }

    /// The body as text (invalid UTF-8 replaced).
    ///
    /// # Errors
    ///
    /// As [`json`](Self::json), but for the decoding.
    pub async fn text(self) -> Result<String, ClientError> {
        let (_, _, bytes) = self.read().await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The body's bytes.
    ///
    /// # Errors
    ///
    /// As [`json`](Self::json), but for the decoding.
    pub async fn bytes(self) -> Result<Bytes, ClientError> {
        let (_, _, bytes) = self.read().await?;
        Ok(bytes)
    }

    /// The HTTP response, whatever its status, its body unread.
    pub fn into_response(self) -> Response<Body> {
        self.response
    }

    async fn read(self) -> Result<(std::sync::Arc<str>, StatusCode, Bytes), ClientError> {
        let reply = self.error_for_status()?;
        let status = reply.status();
        let limited = Limited::new(reply.response.into_body(), reply.limit);
        match limited.collect().await {
            Ok(collected) => Ok((reply.service, status, collected.to_bytes())),
            Err(error) => Err(ClientError::body(&reply.service, status, error)),
        }
    }
}
