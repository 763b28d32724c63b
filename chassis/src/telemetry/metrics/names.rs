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

/// Histogram of gRPC calls served, in seconds, to the end of the response stream
/// (OpenTelemetry `rpc.server.call.duration`).
pub const RPC_SERVER_CALL_DURATION: &str = "rpc_server_call_duration_seconds";
/// Histogram of gRPC calls made, in seconds, retries included, to the end of the response
/// stream (OpenTelemetry `rpc.client.call.duration`).
pub const RPC_CLIENT_CALL_DURATION: &str = "rpc_client_call_duration_seconds";
/// Label: the RPC system, `grpc`.
pub const RPC_SYSTEM_LABEL: &str = "rpc_system";
/// Label: the full name of the gRPC service, `package.Service`.
pub const RPC_SERVICE_LABEL: &str = "rpc_service";
/// Label: the method name, or `_OTHER` for a method the server does not have.
pub const RPC_METHOD_LABEL: &str = "rpc_method";
/// Label: the numeric gRPC status code.
pub const RPC_STATUS_LABEL: &str = "rpc_grpc_status_code";
