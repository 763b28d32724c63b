//! gRPC answers from the server stack: a trailers-only response (HTTP `200`, `grpc-status`
//! and `grpc-message` in the headers, no body), never a problem+json body to a gRPC caller.
//!
//! The standard stack answers some requests itself (shed, out of time, a panic, a body too
//! large) and the router answers others (no such route). For a request whose content type
//! is `application/grpc`, [`to_grpc`] turns any such answer into its gRPC status, with a
//! generic message and never internal text:
//!
//! | the stack's or router's answer | gRPC status |
//! |---|---|
//! | `503` (shed, fault injection) | `UNAVAILABLE` (14) |
//! | `504` (request timeout, the caller's deadline spent or too short) | `DEADLINE_EXCEEDED` (4) |
//! | `500` (a panic, a middleware failure) | `INTERNAL` (13) |
//! | `413`, `431` (message or headers too large) | `RESOURCE_EXHAUSTED` (8) |
//! | `404`, `405` (no such service or method) | `UNIMPLEMENTED` (12) |
//! | others | as gRPC maps HTTP statuses: `401` `UNAUTHENTICATED`, `403` `PERMISSION_DENIED`, `429` `502` `UNAVAILABLE`, `400` `INTERNAL`, else `UNKNOWN` |

use axum::body::Body;
use axum::response::Response;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use tonic::Code;

/// The content type every gRPC request and response carries (with an optional `+proto`,
/// `+json`, ... suffix).
pub const GRPC_CONTENT_TYPE: &str = "application/grpc";
/// The header (or trailer) of a gRPC call's status code.
pub const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
/// The header (or trailer) of a gRPC call's status message.
pub const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// Whether a `content-type` value is gRPC's: `application/grpc` or `application/grpc+...`
/// (gRPC-Web's `application/grpc-web` is not).
pub fn is_grpc_content_type(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    bytes.starts_with(GRPC_CONTENT_TYPE.as_bytes())
        && matches!(bytes.get(GRPC_CONTENT_TYPE.len()), None | Some(b'+' | b';'))
}

/// The status code in `headers` (a trailers-only response's headers, or trailers), if any.
pub fn status_in(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get(GRPC_STATUS)?;
    let code: i32 = value.to_str().ok()?.trim().parse().ok()?;
    Some(Code::from_i32(code))
}

/// A trailers-only gRPC answer: HTTP `200`, `content-type: application/grpc`,
/// `grpc-status: <code>` and `grpc-message: <message>` (a static, generic message).
pub fn trailers_only(code: Code, message: &'static str) -> Response {
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(GRPC_CONTENT_TYPE));
    headers.insert(GRPC_STATUS, HeaderValue::from(code as i32));
    headers.insert(GRPC_MESSAGE, grpc_message(message));
    response
}

/// The response for a gRPC caller: a gRPC response passes as it is; any other (one the
/// stack or the router made, or a handler's non-`200` answer that calls itself gRPC but has
/// no `grpc-status`) becomes the trailers-only answer of its status. Its other headers (the
/// request id, `Retry-After`) are kept.
pub fn to_grpc(response: Response) -> Response {
    let grpc = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(is_grpc_content_type);
    if grpc && (response.status() == StatusCode::OK || status_in(response.headers()).is_some()) {
        return response;
    }
    let (code, message) = code_for(response.status());
    let (mut parts, _problem) = response.into_parts();
    parts.status = StatusCode::OK;
    parts.headers.remove(http::header::CONTENT_LENGTH);
    let answer = trailers_only(code, message);
    parts.headers.extend(answer.into_parts().0.headers);
    Response::from_parts(parts, Body::empty())
}

/// The gRPC status, and its generic message, of an HTTP status the stack or router answered.
pub(crate) fn code_for(status: StatusCode) -> (Code, &'static str) {
    match status.as_u16() {
        429 | 502 | 503 => (Code::Unavailable, "the service is unavailable; retry later"),
        504 => (
            Code::DeadlineExceeded,
            "the call took longer than its deadline allows",
        ),
        500 => (Code::Internal, "the server failed to handle the call"),
        413 | 431 => (
            Code::ResourceExhausted,
            "the call is larger than the server accepts",
        ),
        404 | 405 => (Code::Unimplemented, "the server has no such method"),
        401 => (Code::Unauthenticated, "the call is not authenticated"),
        403 => (Code::PermissionDenied, "the call is not permitted"),
        400 => (Code::Internal, "the server could not read the call"),
        _ => (Code::Unknown, "the call failed"),
    }
}

/// A generic message as a header value (the messages here are plain ASCII, which needs no
/// percent-encoding).
fn grpc_message(message: &'static str) -> HeaderValue {
    HeaderValue::from_static(message)
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;
    use crate::server::Problem;

    #[test]
    fn grpc_content_types() {
        for yes in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc;x=1",
        ] {
            assert!(
                is_grpc_content_type(&HeaderValue::from_static(yes)),
                "{yes}"
            );
        }
        for no in [
            "application/json",
            "application/grpc-web",
            "application/grp",
        ] {
            assert!(!is_grpc_content_type(&HeaderValue::from_static(no)), "{no}");
        }
    }

    #[test]
    fn a_problem_becomes_its_status_and_a_grpc_answer_stays() {
        let mut problem = Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .detail("internal detail")
            .into_response();
        problem
            .headers_mut()
            .insert("x-request-id", HeaderValue::from_static("id-1"));
        let answer = to_grpc(problem);
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(status_in(answer.headers()), Some(Code::Unavailable));
        assert_eq!(answer.headers()["content-type"], GRPC_CONTENT_TYPE);
        assert_eq!(answer.headers()["x-request-id"], "id-1");
        assert!(answer.headers().get("content-length").is_none());
        for (status, code) in [
            (504, Code::DeadlineExceeded),
            (500, Code::Internal),
            (413, Code::ResourceExhausted),
            (404, Code::Unimplemented),
            (418, Code::Unknown),
        ] {
            let status = StatusCode::from_u16(status).expect("status");
            let answer = to_grpc(Problem::new(status).into_response());
            assert_eq!(status_in(answer.headers()), Some(code), "{status}");
        }
        let grpc = trailers_only(Code::InvalidArgument, "bad");
        assert_eq!(
            status_in(to_grpc(grpc).headers()),
            Some(Code::InvalidArgument)
        );
        // A handler's non-200 answer that says it is gRPC but has no grpc-status (a proxy
        // relaying a 415 with the caller's content type) gets one.
        let relayed = Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .header(CONTENT_TYPE, GRPC_CONTENT_TYPE)
            .body(Body::empty())
            .expect("response");
        let answer = to_grpc(relayed);
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(status_in(answer.headers()), Some(Code::Unavailable));
    }
}
