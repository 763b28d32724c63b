//! Bounded label values: methods collapse to `_OTHER`, routes are templates or `unmatched`.

use http::Method;

/// Number of method slots: the nine standard methods plus `_OTHER`.
pub(crate) const METHODS: usize = 10;

/// The `http_route` value of requests that matched no route (404 fallback).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The `http_request_method` value of non-standard methods.
pub const OTHER_METHOD: &str = "_OTHER";

const LABELS: [&str; METHODS] = [
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "CONNECT",
    "OPTIONS",
    "TRACE",
    "PATCH",
    OTHER_METHOD,
];

/// The slot of a method (index into per-method arrays).
pub(crate) fn method_slot(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::DELETE => 4,
        Method::CONNECT => 5,
        Method::OPTIONS => 6,
        Method::TRACE => 7,
        Method::PATCH => 8,
        _ => 9,
    }
}

/// The label value of a slot.
pub(crate) fn method_label(slot: usize) -> &'static str {
    LABELS[slot]
}

/// The span name prefix: OpenTelemetry names spans of unknown methods `HTTP`.
pub(crate) fn span_method(slot: usize) -> &'static str {
    if slot == METHODS - 1 {
        "HTTP"
    } else {
        LABELS[slot]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_collapse() {
        assert_eq!(method_label(method_slot(&Method::GET)), "GET");
        assert_eq!(method_label(method_slot(&Method::PATCH)), "PATCH");
        let custom = Method::from_bytes(b"PURGE").expect("valid token");
        assert_eq!(method_label(method_slot(&custom)), "_OTHER");
        assert_eq!(span_method(method_slot(&custom)), "HTTP");
    }
}
