//! [`CallerLink`]: the trace position of a caller whose context is not continued.

use super::TraceParent;

/// The `traceparent` an untrusted caller sent, kept in the request extensions by the server's
/// trust boundary (`server.trust`): the request begins a trace of its own, and its exported
/// server span carries a link to this position instead of having it as parent.
///
/// ```
/// use chassis::telemetry::propagation::{CallerLink, TraceParent};
///
/// async fn handler(request: http::Request<axum::body::Body>) -> String {
///     match request.extensions().get::<CallerLink>() {
///         Some(CallerLink(caller)) => format!("called from trace {}", caller.trace_id),
///         None => "trusted caller, or none sent".to_owned(),
///     }
/// }
/// # let _ = handler;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallerLink(pub TraceParent);
