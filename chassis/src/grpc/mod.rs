//! gRPC beside the HTTP routes (feature `grpc`): tonic services on the service's port and
//! stack, `grpc.health.v1` from the health registry, server reflection, RPC metrics.
//!
//! ```
//! use axum::Router;
//! use chassis::grpc::GrpcServer;
//! use chassis::service::Context;
//! # use std::convert::Infallible;
//! # use tonic::{body::Body, server::NamedService};
//!
//! # fn router<S>(ctx: Context<()>, catalog: S) -> Result<Router, tower::BoxError>
//! # where
//! #     S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
//! #         + NamedService + Clone + Send + Sync + 'static,
//! #     S::Future: Send + 'static,
//! # {
//! # const FILE_DESCRIPTOR_SET: &[u8] = tonic_health::pb::FILE_DESCRIPTOR_SET;
//! // `catalog`: a tonic-generated `CatalogServer::new(my_impl)`.
//! let grpc = GrpcServer::new(&ctx)
//!     .add_service(catalog)
//!     .file_descriptor_set(FILE_DESCRIPTOR_SET) // what build.rs wrote, for reflection
//!     .into_router()?;
//! Ok(Router::new()
//!     .route("/items", axum::routing::get(|| async { "[]" }))
//!     .merge(grpc))
//! # }
//! ```
//!
//! # Serving
//!
//! HTTP/1.1 and HTTP/2 cleartext share the port (the server negotiates), so a gRPC client
//! and a browser reach the same service. A request whose `content-type` is
//! `application/grpc` goes through the same standard stack as every other, with gRPC
//! semantics: what the stack answers itself is a trailers-only gRPC answer (see [`to_grpc`]
//! for the table: shedding `UNAVAILABLE`, the request timeout and a spent deadline
//! `DEADLINE_EXCEEDED`, a panic `INTERNAL`, a message over `server.max_body_size`
//! `RESOURCE_EXHAUSTED`, an unknown service or method `UNIMPLEMENTED`), never a
//! problem+json body and never internal text. `grpc-timeout` is the caller's deadline, read
//! under the same trust rules and cap as `x-request-timeout-ms` (the earlier of the two
//! counts), and ends the call when it passes. The trace context continues the caller's, and
//! the handler's outbound calls carry it and the deadline on. At shutdown HTTP/2 connections
//! get `GOAWAY` when draining begins, in-flight calls and streams finish within the grace
//! period, and the health service's watches end.
//!
//! # Health and reflection
//!
//! `grpc.health.v1.Health` (`Check` and `Watch`) answers from the service's
//! [`HealthRegistry`](crate::health::HealthRegistry): the overall status (`""`) and each
//! added service's are readiness, `NOT_SERVING` from the first moment of shutdown. Server
//! reflection (`grpc.reflection.v1` and `v1alpha`) describes the file descriptor sets given
//! to [`GrpcServer::file_descriptor_set`]; `server.grpc.reflection = false` turns it off.
//!
//! # Metrics
//!
//! `rpc_server_call_duration_seconds{rpc_system="grpc", rpc_service, rpc_method,
//! rpc_grpc_status_code}`, to the end of the response stream (see the `metrics` module).
//!
//! # No `protoc`
//!
//! Compile `.proto` files in a `build.rs` with protox (pure Rust) feeding tonic's generator
//! (`tonic-prost-build`'s `compile_fds`), as `examples/catalog/build.rs` does.

mod body;
mod client;
mod health;
mod metrics;
mod server;
mod span;
mod status;
mod timeout;

use std::time::Duration;

pub(crate) use body::GrpcRequestBody;
pub use client::GrpcChannel;
pub use health::HEALTH_SERVICE;
pub use server::{GrpcBuildError, GrpcServer};
pub(crate) use span::SpanHandoff;
pub use status::{
    GRPC_CONTENT_TYPE, GRPC_MESSAGE, GRPC_STATUS, is_grpc_content_type, status_in, to_grpc,
    trailers_only,
};
pub use timeout::{GRPC_TIMEOUT, parse_grpc_timeout};

/// The budget of a gRPC call: the earlier of the deadline header's `budget` and its
/// `grpc-timeout`, capped at `max` (the request timeout) as the deadline header is.
pub(crate) fn call_budget(
    budget: Option<Duration>,
    grpc_timeout: Option<&http::HeaderValue>,
    max: Duration,
) -> Option<Duration> {
    let grpc = grpc_timeout.and_then(|value| {
        let parsed = parse_grpc_timeout(value);
        if parsed.is_none() {
            tracing::debug!(?value, "ignoring malformed grpc-timeout");
        }
        parsed
    });
    match (budget, grpc) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b.map(|b| b.min(max))),
    }
}
