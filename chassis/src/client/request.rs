//! [`RequestBuilder`]: a call being put together, sent with [`RequestBuilder::send`].

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request};
use serde::Serialize;

use super::{ClientError, HttpClient, Reply, Route};
use crate::resilience::retry::Retryable;
use crate::resilience::timeout::CallTimeout;

/// The header that makes a non-idempotent request safe to retry (IETF draft
/// "The Idempotency-Key HTTP Header Field").
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The route template of a request, in its extensions: the `http_route` label of the
/// client's metrics and the `url.template` of its span. [`HttpClient`] as a
/// `tower::Service` reads it from there; requests without one are measured as `_OTHER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteTemplate(pub &'static str);

/// A call being put together: method and route, headers, query, body, a timeout of its own,
/// whether it may be retried.
///
/// ```no_run
/// # async fn demo(orders: chassis::client::HttpClient) -> Result<(), chassis::client::ClientError> {
/// use std::time::Duration;
/// use chassis::client::Route;
///
/// let reply = orders
///     .post("/orders")
///     .json(&serde_json::json!({"lines": [{"item_id": "espresso", "quantity": 1}]}))
///     .idempotency_key("order-7f3a")        // a POST that may be retried
///     .timeout(Duration::from_millis(800))  // this call's own timeout
///     .send()
///     .await?;
/// # let _ = reply; Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a request is sent with `send`"]
pub struct RequestBuilder {
    client: HttpClient,
    method: Method,
    route: Route,
    headers: HeaderMap,
    query: Option<String>,
    body: Option<Bytes>,
    timeout: Option<Duration>,
    retryable: bool,
    /// The first problem met while building, reported by `send`.
    error: Option<ClientError>,
}

impl RequestBuilder {
    pub(crate) fn new(client: HttpClient, method: Method, route: Route) -> Self {
        Self {
            client,
            method,
            route,
            headers: HeaderMap::new(),
            query: None,
            body: None,
            timeout: None,
            retryable: false,
            error: None,
        }
    }

    /// Adds a header.
    pub fn header<V>(mut self, name: HeaderName, value: V) -> Self
    where
        V: TryInto<HeaderValue>,
        V::Error: Into<tower::BoxError>,
    {
        match value.try_into() {
            Ok(value) => {
                self.headers.append(name, value);
            }
            Err(error) => self.fail(error.into()),
        }
        self
    }

    /// Sets the query string from a serializable value (`&[("q", "beans")]`, a struct).
    pub fn query<Q: Serialize + ?Sized>(mut self, query: &Q) -> Self {
        match serde_urlencoded::to_string(query) {
            Ok(query) => self.query = Some(query).filter(|q| !q.is_empty()),
            Err(error) => self.fail(error.into()),
        }
        self
    }

    /// Sends `body` as JSON (`content-type: application/json`).
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                self.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                self.body = Some(Bytes::from(bytes));
            }
            Err(error) => self.fail(error.into()),
        }
        self
    }

    /// Sends `body` as it is.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// This call's own overall timeout, instead of `clients.<name>.timeout`; it counts as the
    /// client's own timeout (a failure of the dependency when it fires).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Marks a call with a non-idempotent method safe to retry (the callee deduplicates it).
    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    /// Sets `Idempotency-Key` and marks the call retryable: the callee answers a repeat with
    /// the first answer.
    pub fn idempotency_key(self, key: impl AsRef<str>) -> Self {
        self.header(IDEMPOTENCY_KEY, key.as_ref()).retryable()
    }

    /// Sends the call.
    ///
    /// # Errors
    ///
    /// A [`ClientError`]: a request that could not be built
    /// ([`InvalidRequest`](super::ClientErrorKind::InvalidRequest)), or the call failing (its
    /// [`kind`](ClientError::kind) says how). An answer with an error status is a [`Reply`],
    /// not an error, until its body is read.
    pub async fn send(self) -> Result<Reply, ClientError> {
        let client = self.client.clone();
        let request = self.build()?;
        let response = client.call(request).await?;
        Ok(Reply::new(client.shared_name(), response))
    }

    /// The request as it would be sent.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send), for a request that cannot be built.
    pub fn build(self) -> Result<Request<Body>, ClientError> {
        let name = self.client.name().to_owned();
        if let Some(error) = self.error {
            return Err(error);
        }
        let invalid = |error: tower::BoxError| ClientError::invalid(&name, error);
        let mut uri = self.route.path().map_err(|e| invalid(e.into()))?;
        if let Some(query) = &self.query {
            uri.push('?');
            uri.push_str(query);
        }
        let mut request = Request::builder()
            .method(self.method)
            .uri(uri)
            .body(self.body.map_or_else(Body::empty, Body::from))
            .map_err(|e| invalid(e.into()))?;
        *request.headers_mut() = self.headers;
        let extensions = request.extensions_mut();
        extensions.insert(RouteTemplate(self.route.template()));
        if let Some(timeout) = self.timeout {
            extensions.insert(CallTimeout(timeout));
        }
        if self.retryable {
            extensions.insert(Retryable);
        }
        Ok(request)
    }

    fn fail(&mut self, error: tower::BoxError) {
        if self.error.is_none() {
            self.error = Some(ClientError::invalid(self.client.name(), error));
        }
    }
}
