//! The request headers the standard stack reads, found in one pass over the map.
//!
//! Three hashed look-ups (`x-request-id`, `content-length`, `x-request-timeout-ms`) cost
//! more than one walk over the handful of headers a request usually has. With the `grpc`
//! feature the same walk finds `content-type` and `grpc-timeout` (names of the same length
//! as `x-request-id`, so other headers cost nothing more).

use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderValue};

use crate::resilience::deadline::HEADER as DEADLINE;
use crate::server::REQUEST_ID;

/// The first value of each header the stack reads.
#[derive(Debug, Default)]
pub(super) struct Found<'a> {
    pub(super) request_id: Option<&'a HeaderValue>,
    pub(super) content_length: Option<&'a HeaderValue>,
    pub(super) deadline: Option<&'a HeaderValue>,
    #[cfg(feature = "grpc")]
    pub(super) content_type: Option<&'a HeaderValue>,
    #[cfg(feature = "grpc")]
    pub(super) grpc_timeout: Option<&'a HeaderValue>,
}

impl<'a> Found<'a> {
    pub(super) fn scan(headers: &'a HeaderMap) -> Self {
        let mut found = Self::default();
        for (name, value) in headers {
            let slot = match name.as_str().len() {
                12 if *name == REQUEST_ID => &mut found.request_id,
                #[cfg(feature = "grpc")]
                12 if *name == http::header::CONTENT_TYPE => &mut found.content_type,
                #[cfg(feature = "grpc")]
                12 if *name == crate::grpc::GRPC_TIMEOUT => &mut found.grpc_timeout,
                14 if *name == CONTENT_LENGTH => &mut found.content_length,
                20 if *name == DEADLINE => &mut found.deadline,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_value_of_each() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("x"));
        headers.append(REQUEST_ID, HeaderValue::from_static("first"));
        headers.append(REQUEST_ID, HeaderValue::from_static("second"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("12"));
        headers.insert(DEADLINE, HeaderValue::from_static("250"));
        let found = Found::scan(&headers);
        assert_eq!(found.request_id, Some(&HeaderValue::from_static("first")));
        assert_eq!(found.content_length, Some(&HeaderValue::from_static("12")));
        assert_eq!(found.deadline, Some(&HeaderValue::from_static("250")));
        assert!(Found::scan(&HeaderMap::new()).request_id.is_none());
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn finds_the_grpc_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_static("id"));
        headers.insert("content-type", HeaderValue::from_static("application/grpc"));
        headers.insert("grpc-timeout", HeaderValue::from_static("5S"));
        let found = Found::scan(&headers);
        assert_eq!(found.request_id, Some(&HeaderValue::from_static("id")));
        assert_eq!(
            found.content_type,
            Some(&HeaderValue::from_static("application/grpc"))
        );
        assert_eq!(found.grpc_timeout, Some(&HeaderValue::from_static("5S")));
    }
}
