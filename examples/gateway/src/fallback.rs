//! The fallback for `/api/items`: the last list the catalog answered (an empty list when it
//! never answered), marked `x-fallback: catalog-unavailable`, while the catalog is failing or
//! its breaker is open.

use std::sync::{Mutex, PoisonError};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::FALLBACK_HEADER;

/// The last good item list.
#[derive(Debug, Default)]
pub(crate) struct LastItems {
    body: Mutex<Option<Bytes>>,
}

impl LastItems {
    pub(crate) fn remember(&self, body: Bytes) {
        *self.body.lock().unwrap_or_else(PoisonError::into_inner) = Some(body);
    }

    /// The fallback answer.
    pub(crate) fn answer(&self) -> Response {
        let body = self
            .body
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| Bytes::from_static(b"[]"));
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            FALLBACK_HEADER,
            HeaderValue::from_static("catalog-unavailable"),
        );
        response
    }
}
