//! W3C Trace Context and Baggage propagation.
//!
//! ```
//! use chassis::telemetry::propagation::{TraceContext, TraceParent};
//! use http::{HeaderMap, HeaderValue};
//!
//! let mut inbound = HeaderMap::new();
//! inbound.insert(
//!     "traceparent",
//!     HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
//! );
//! let ctx = TraceContext::from_headers(&inbound);
//! assert_eq!(ctx.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
//!
//! let mut outbound = HeaderMap::new();
//! ctx.inject(&mut outbound);
//! let sent = TraceParent::parse(&outbound["traceparent"]).unwrap();
//! assert_eq!(sent.parent_id, ctx.span_id()); // our span is the callee's parent
//! ```
//!
//! # Why
//!
//! A trace only crosses a service boundary if every hop reads `traceparent` and writes it on.
//! Parsing is strict (the specification's rules, lower-case hex only, no all-zero ids) and
//! forgiving in effect: a bad header never fails a request, it starts a new trace.
//! Parsing and formatting do not allocate; ids come from a thread-local `fastrand`.
//!
//! # Where the current context lives
//!
//! Inbound, [`ServerTelemetryLayer`](crate::telemetry::http::ServerTelemetryLayer) builds a
//! [`TraceContext`] and makes it the current context (see [`Scoped`]) while the handler future
//! is polled; handlers take it as an extractor (`ctx: TraceContext`) or call
//! [`TraceContext::current`]. Nothing goes into the request extensions (an allocation per
//! request saved). Outbound, [`PropagateLayer`] uses a `TraceContext` found in the
//! outgoing request's extensions, else the task-local one. Spawned tasks do not inherit it:
//! move `TraceContext::current()` into them and use [`TraceContext::scope`].

mod caller;
mod carry;
mod context;
mod extract;
pub(crate) mod ids;
mod layer;
mod scoped;
mod traceparent;
mod tracestate;

use http::HeaderName;

pub use caller::CallerLink;
pub use carry::{BAGGAGE_MAX_LEN, BAGGAGE_MAX_MEMBERS};
pub use context::TraceContext;
pub use ids::{SpanId, TraceFlags, TraceId};
pub use layer::{Propagate, PropagateLayer};
pub use scoped::Scoped;
pub use traceparent::TraceParent;
pub use tracestate::{TRACESTATE_MAX_LEN, TRACESTATE_MAX_MEMBERS};

/// `traceparent`.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// `tracestate`.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
/// `baggage`.
pub const BAGGAGE: HeaderName = HeaderName::from_static("baggage");
/// `x-request-id`.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
