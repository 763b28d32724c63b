//! Request ids: `x-request-id` is kept when the caller sent a sane one, generated otherwise,
//! and echoed on the response (tower-http's request-id layers with a cheap generator).

use http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Generates 128-bit random request ids as 32 hex digits.
///
/// An OS-random UUID v4 costs more than a whole bare request; ids need to be unique, not
/// unpredictable, so this draws from a fast thread-local generator (`fastrand`, seeded from
/// the OS once per thread).
///
/// ```
/// use chassis::server::FastRequestId;
/// use tower_http::request_id::MakeRequestId;
///
/// let id = FastRequestId.make_request_id(&http::Request::new(())).unwrap();
/// assert_eq!(id.header_value().len(), 32);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct FastRequestId;

impl MakeRequestId for FastRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        Some(RequestId::new(random_id()))
    }
}

/// 32 lower-case hex digits of a random, non-zero 128-bit value.
pub(crate) fn random_id() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let value = fastrand::u128(1..);
    let mut text = [0u8; 32];
    for (i, byte) in text.iter_mut().enumerate() {
        let nibble = (value >> (124 - 4 * i)) & 0xf;
        *byte = HEX[usize::try_from(nibble).unwrap_or(0)];
    }
    HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_and_distinct() {
        let a = random_id();
        let b = random_id();
        assert_ne!(a, b);
        assert!(a.as_bytes().iter().all(u8::is_ascii_hexdigit));
        assert_eq!(a.len(), 32);
    }
}
