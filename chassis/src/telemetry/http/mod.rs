//! Server-side telemetry: one layer for the trace span, context propagation, RED metrics and
//! the access log.
//!
//! ```
//! use axum::{Router, routing::get};
//! use chassis::telemetry::http::ServerTelemetryLayer;
//!
//! let app: Router = Router::new()
//!     .route("/items/{id}", get(|| async { "item" }))
//!     .layer(ServerTelemetryLayer::new()); // after the routes: sees the route template
//! ```
//!
//! # Why one layer
//!
//! Stacking tower-http's `TraceLayer`, a metrics layer and a propagation layer costs several
//! microseconds per request (each clones state, boxes futures, makes DEBUG spans and looks up
//! metric labels). This layer does all of it in one future: parse `traceparent` (no
//! allocation), a task-local context for log correlation (a span only when traces are
//! exported), metric handles cached per (route, method, status) in
//! lock-free slots, one access-log event.
//!
//! # Per request
//!
//! - the [`TraceContext`] continues the caller's
//!   trace (or starts one if `traceparent` is absent or malformed) and is the task-local
//!   current context while the handler runs (handlers extract it: `ctx: TraceContext`);
//! - log lines logged while the request runs carry its `trace_id`, `span_id` and
//!   `request_id`, read from that task-local context by the log format (no span needed);
//! - when traces are exported (OTLP), an INFO span `http.server` with `otel.name`
//!   (`GET /items/{id}`), `otel.kind`, `http.request.method`, `http.request.method_original`
//!   (for `_OTHER`), `http.route`, `url.path`, `http.response.status_code`, `trace_id`,
//!   `span_id`, `request_id`;
//! - `http_server_active_requests{http_request_method}` up, and down when done or cancelled;
//! - `http_server_request_duration_seconds{http_request_method,http_route,http_response_status_code}`
//!   observes the time to the response head;
//! - one `chassis::access` event at the configured level.
//!
//! # Cardinality
//!
//! `http_route` is the matched template (`axum::extract::MatchedPath`) or `unmatched`;
//! `http_request_method` is one of nine methods or `_OTHER`; the status is numeric. The raw
//! path only appears in the span (`url.path`), never in a label. Put the layer with
//! `Router::layer`: around the whole router it runs before routing and every request is
//! `unmatched`.

pub(crate) mod abandon;
mod cache;
mod future;
mod labels;
mod layer;

use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::Instant;

use axum::extract::MatchedPath;
use http::{Request, Response};
use tower::Service;

pub use future::ResponseFuture;
pub use labels::{OTHER_METHOD, UNMATCHED_ROUTE};
pub use layer::ServerTelemetryLayer;

use cache::Instance;
use future::Tracker;
use labels::{METHODS, method_label, method_slot};

use super::config::AccessLog;
use super::link::Export;
use super::propagation::{CallerLink, TraceContext};
use super::server_span::{Described, ServerSpan};

/// The service made by [`ServerTelemetryLayer`].
#[derive(Clone, Debug)]
pub struct ServerTelemetry<S> {
    inner: S,
    instance: Arc<Instance>,
    access: AccessLog,
    export: Export,
}

impl<S, B, ResBody> Service<Request<B>> for ServerTelemetry<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let start = Instant::now();
        let slot = method_slot(req.method());
        let template = req
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        let route_ref = self.instance.resolve(template);
        let mut ctx = TraceContext::from_headers(req.headers());

        // Log lines find the ids in the task-local context (see `logs::correlation`); the
        // SERVER span is made only when traces are exported, and described only when sampled.
        let span = match self.instance.get(&route_ref) {
            Some(route) if super::link::exporting() => ServerSpan::start(
                &mut ctx,
                self.export,
                req.extensions().get::<CallerLink>(),
                || Described {
                    name: &route.method(slot).span_name,
                    method: method_label(slot),
                    method_original: (slot == METHODS - 1).then(|| req.method().as_str()),
                    route: route.template(),
                    path: req.uri().path(),
                    version: req.version(),
                    host: req
                        .uri()
                        .authority()
                        .map(http::uri::Authority::as_str)
                        .or_else(|| {
                            req.headers()
                                .get(http::header::HOST)
                                .and_then(|host| host.to_str().ok())
                        }),
                },
            ),
            _ => ServerSpan::default(),
        };

        self.instance.shared.active(slot).increment(1.0);
        let tracker = Tracker {
            instance: Arc::clone(&self.instance),
            route: route_ref,
            method: slot,
            start,
            access: self.access,
            outcome: future::Outcome::Running,
        };
        // In the request's context from the start: a line logged by a `call` below carries
        // the ids too.
        let inner = ctx.in_scope(|| self.inner.call(req));
        ResponseFuture {
            inner: ctx.scope(inner),
            span,
            tracker,
        }
    }
}
