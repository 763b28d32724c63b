//! [`Problem`]: RFC 9457 `application/problem+json` error responses.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// The content type of problem responses.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem detail, answered as `application/problem+json`.
///
/// ```
/// use axum::response::IntoResponse;
/// use chassis::server::Problem;
///
/// let response = Problem::new(http::StatusCode::NOT_FOUND)
///     .detail("no item with id 42")
///     .into_response();
/// assert_eq!(response.status(), 404);
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// An extension member: the request id, so a caller can quote it to whoever reads the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

impl Problem {
    /// A problem for `status`, titled with the status' reason phrase.
    pub fn new(status: StatusCode) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: None,
            request_id: None,
        }
    }

    /// Adds a human-readable explanation of this occurrence.
    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds the request id (an extension member, `request_id`), for a caller to quote.
    #[must_use]
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// Adds the id of the request being served (from its trace context), if there is one.
    #[must_use]
    pub fn current_request_id(self) -> Self {
        let id = crate::telemetry::propagation::TraceContext::with_current(|ctx| {
            ctx.request_id()
                .and_then(|id| id.to_str().ok())
                .map(str::to_owned)
        })
        .flatten();
        match id {
            Some(id) => self.request_id(id),
            None => self,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = self.status();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}
