//! Metric and label names (the public contract in DESIGN.md).

/// Histogram of server request durations in seconds.
pub const HTTP_SERVER_REQUEST_DURATION: &str = "http_server_request_duration_seconds";
/// Histogram of client request durations in seconds (recorded by the client).
pub const HTTP_CLIENT_REQUEST_DURATION: &str = "http_client_request_duration_seconds";
/// Gauge of requests being served.
pub const HTTP_SERVER_ACTIVE_REQUESTS: &str = "http_server_active_requests";

/// Label: the request method, one of the standard nine or `_OTHER`.
pub const METHOD_LABEL: &str = "http_request_method";
/// Label: the route template, or `unmatched`.
pub const ROUTE_LABEL: &str = "http_route";
/// Label: the numeric response status.
pub const STATUS_LABEL: &str = "http_response_status_code";

/// Histogram buckets (seconds) of the OpenTelemetry HTTP semantic conventions.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
