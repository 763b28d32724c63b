//! `TraceContext`: the trace position of the request being served.

use std::future::Future;

use http::{HeaderMap, HeaderValue};

use super::ids::{SpanId, TraceFlags, TraceId};
use super::scoped::{self, Scoped};
use super::{BAGGAGE, REQUEST_ID, TRACEPARENT, TRACESTATE, TraceParent, carry, tracestate};

/// Where a request sits in its trace: trace id, this service's span id, the caller's span id,
/// flags, and the `tracestate`, `baggage` and `x-request-id` to carry on.
///
/// The server layer makes it the task-local current context while the handler runs, so
/// [`TraceContext::current`], the extractor and the outbound
/// [`PropagateLayer`](super::PropagateLayer) find it without it being passed around.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: TraceId,
    span_id: SpanId,
    parent_id: Option<SpanId>,
    flags: TraceFlags,
    /// `tracestate` and `baggage`, boxed: most requests carry neither, and the context is
    /// moved several times per request (into and out of the task-local slot on every poll).
    carried: Option<Box<Carried>>,
    request_id: Option<HeaderValue>,
    /// The tracer the request's spans are exported by (its service's), set by the server
    /// layer while traces are exported.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    export_slot: Option<u32>,
}

/// The vendor headers a context carries on.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Carried {
    tracestate: Option<HeaderValue>,
    baggage: Option<HeaderValue>,
}

impl TraceContext {
    /// A new trace: random trace and span ids, no parent, flags `sampled`.
    pub fn new_root() -> Self {
        Self {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            parent_id: None,
            flags: TraceFlags::SAMPLED,
            carried: None,
            request_id: None,
            export_slot: None,
        }
    }

    /// The context of an inbound request: continues the caller's trace when `traceparent` is
    /// valid (with a new span id of our own), otherwise starts a new trace and ignores
    /// `tracestate` (as the specification requires). `baggage` and `x-request-id` are kept in
    /// both cases. Never fails.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let found = Found::scan(headers);
        let parent = match found.traceparent {
            Some(value) if found.traceparent_lines == 1 => TraceParent::parse(value),
            _ => None,
        };
        let (mut ctx, tracestate) = match parent {
            Some(parent) => (
                Self {
                    trace_id: parent.trace_id,
                    span_id: SpanId::random(),
                    parent_id: Some(parent.parent_id),
                    flags: parent.flags,
                    carried: None,
                    request_id: None,
                    export_slot: None,
                },
                found
                    .tracestate
                    .and_then(|first| tracestate::inbound(headers, first, found.tracestate_lines)),
            ),
            None => (Self::new_root(), None),
        };
        let baggage = found.baggage.and_then(|first| {
            carry::baggage(carry::lines(headers, &BAGGAGE, first, found.baggage_lines)?)
        });
        if tracestate.is_some() || baggage.is_some() {
            ctx.carried = Some(Box::new(Carried {
                tracestate,
                baggage,
            }));
        }
        ctx.request_id = found.request_id.cloned();
        ctx
    }

    /// A child position in the same trace: a new span id whose parent is this one.
    #[must_use]
    pub fn child(&self) -> Self {
        Self {
            span_id: SpanId::random(),
            parent_id: Some(self.span_id),
            ..self.clone()
        }
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// This service's span id for the request.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The caller's span id, `None` at the root of a trace.
    pub fn parent_id(&self) -> Option<SpanId> {
        self.parent_id
    }

    /// The trace flags.
    pub fn flags(&self) -> TraceFlags {
        self.flags
    }

    /// Sets or clears the `sampled` flag (the exporting sampler's decision).
    #[cfg(feature = "otlp")]
    pub(crate) fn set_sampled(&mut self, sampled: bool) {
        let bits = self.flags.bits() & !TraceFlags::SAMPLED.bits();
        self.flags = TraceFlags::new(
            bits | if sampled {
                TraceFlags::SAMPLED.bits()
            } else {
                0
            },
        );
    }

    /// The tracer of the service serving the request (see [`set_sampled`](Self::set_sampled)).
    #[cfg(feature = "otlp")]
    pub(crate) fn export_slot(&self) -> Option<u32> {
        self.export_slot
    }

    /// Ties the request's spans to the tracer in `slot`.
    #[cfg(feature = "otlp")]
    pub(crate) fn set_export_slot(&mut self, slot: Option<u32>) {
        self.export_slot = slot;
    }

    /// The `tracestate` to pass on.
    pub fn tracestate(&self) -> Option<&HeaderValue> {
        self.carried.as_ref()?.tracestate.as_ref()
    }

    /// The `baggage` to pass on.
    pub fn baggage(&self) -> Option<&HeaderValue> {
        self.carried.as_ref()?.baggage.as_ref()
    }

    /// The request id (`x-request-id`) of the inbound request.
    pub fn request_id(&self) -> Option<&HeaderValue> {
        self.request_id.as_ref()
    }

    /// Replaces the request id.
    #[must_use]
    pub fn with_request_id(mut self, id: Option<HeaderValue>) -> Self {
        self.request_id = id;
        self
    }

    /// The `traceparent` an outbound call from this position carries: our span is its parent.
    pub fn traceparent(&self) -> TraceParent {
        TraceParent {
            trace_id: self.trace_id,
            parent_id: self.span_id,
            flags: TraceFlags::new(
                self.flags.bits() & TraceFlags::SAMPLED.union(TraceFlags::RANDOM).bits(),
            ),
        }
    }

    /// Writes `traceparent`, `tracestate`, `baggage` and (unless already set) `x-request-id`.
    pub fn inject(&self, headers: &mut HeaderMap) {
        self.inject_as(headers, self.span_id);
    }

    /// As [`inject`](Self::inject), for an outbound request known to the caller as
    /// `request_span`: the callee's parent is that span (one per attempt), not this one.
    pub fn inject_as(&self, headers: &mut HeaderMap, request_span: SpanId) {
        let traceparent = TraceParent {
            parent_id: request_span,
            ..self.traceparent()
        };
        headers.insert(TRACEPARENT, traceparent.to_header_value());
        if let Some(state) = self.tracestate() {
            headers.insert(TRACESTATE, state.clone());
        }
        if let Some(baggage) = self.baggage() {
            headers.insert(BAGGAGE, baggage.clone());
        }
        if let Some(id) = &self.request_id {
            headers.entry(REQUEST_ID).or_insert_with(|| id.clone());
        }
    }

    /// A copy of the current context (set by the server layer while the request's future
    /// runs), if any.
    pub fn current() -> Option<Self> {
        scoped::with_current(Clone::clone)
    }

    /// Runs `f` on the current context without cloning it.
    pub fn with_current<R>(f: impl FnOnce(&Self) -> R) -> Option<R> {
        scoped::with_current(f)
    }

    /// Runs `future` with this context as the current one, on every poll.
    ///
    /// Tasks spawned inside do not inherit it: pass `TraceContext::current()` along and call
    /// `scope` again in the new task.
    pub fn scope<F: Future>(self, future: F) -> Scoped<F> {
        Scoped::new(self, future)
    }

    /// Runs `f` with this context as the current one.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        scoped::enter(self, f)
    }
}

/// The propagation headers of a request, found in one pass over the map (cheaper than four
/// hashed look-ups for the usual handful of headers).
struct Found<'a> {
    traceparent: Option<&'a HeaderValue>,
    traceparent_lines: usize,
    tracestate: Option<&'a HeaderValue>,
    tracestate_lines: usize,
    baggage: Option<&'a HeaderValue>,
    baggage_lines: usize,
    request_id: Option<&'a HeaderValue>,
}

impl<'a> Found<'a> {
    fn scan(headers: &'a HeaderMap) -> Self {
        let mut found = Self {
            traceparent: None,
            traceparent_lines: 0,
            tracestate: None,
            tracestate_lines: 0,
            baggage: None,
            baggage_lines: 0,
            request_id: None,
        };
        for (name, value) in headers {
            let name = name.as_str();
            let (slot, lines) = match name.len() {
                11 if name == TRACEPARENT.as_str() => {
                    (&mut found.traceparent, &mut found.traceparent_lines)
                }
                10 if name == TRACESTATE.as_str() => {
                    (&mut found.tracestate, &mut found.tracestate_lines)
                }
                7 if name == BAGGAGE.as_str() => (&mut found.baggage, &mut found.baggage_lines),
                12 if name == REQUEST_ID.as_str() => {
                    found.request_id.get_or_insert(value);
                    continue;
                }
                _ => continue,
            };
            slot.get_or_insert(value);
            *lines += 1;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderName;

    use super::*;

    #[test]
    fn stays_small_enough_to_move_cheaply() {
        // Moved in and out of the task-local slot on every poll of a request.
        assert!(
            std::mem::size_of::<TraceContext>() <= 96,
            "{}",
            std::mem::size_of::<TraceContext>()
        );
        assert_eq!(std::mem::size_of::<Option<SpanId>>(), 8);
    }

    fn inbound(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        h
    }

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn continues_a_valid_trace() {
        let ctx = TraceContext::from_headers(&inbound(&[
            ("traceparent", TP),
            ("tracestate", "rojo=1"),
            ("baggage", "k=v"),
            ("x-request-id", "abc"),
        ]));
        assert_eq!(
            ctx.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(
            ctx.parent_id().map(|p| p.to_string()).as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert_ne!(ctx.span_id().to_string(), "00f067aa0ba902b7");
        assert_eq!(ctx.tracestate().expect("kept"), "rojo=1");
        assert_eq!(ctx.baggage().expect("kept"), "k=v");
        assert_eq!(ctx.request_id().expect("kept"), "abc");
    }

    #[test]
    fn malformed_traceparent_starts_a_new_trace_and_drops_tracestate() {
        let ctx = TraceContext::from_headers(&inbound(&[
            ("traceparent", "00-xyz"),
            ("tracestate", "rojo=1"),
            ("baggage", "k=v"),
        ]));
        assert_ne!(
            ctx.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(ctx.parent_id().is_none());
        assert!(ctx.tracestate().is_none());
        assert_eq!(ctx.baggage().expect("baggage is independent"), "k=v");
    }

    #[test]
    fn two_traceparent_lines_are_invalid() {
        let ctx = TraceContext::from_headers(&inbound(&[("traceparent", TP), ("traceparent", TP)]));
        assert!(ctx.parent_id().is_none());
    }

    #[test]
    fn inject_writes_our_span_as_parent() {
        let ctx =
            TraceContext::from_headers(&inbound(&[("traceparent", TP), ("x-request-id", "r1")]));
        let mut out = inbound(&[("x-request-id", "caller-set")]);
        ctx.inject(&mut out);
        let tp = TraceParent::parse(&out[&TRACEPARENT]).expect("valid");
        assert_eq!(tp.trace_id, ctx.trace_id());
        assert_eq!(tp.parent_id, ctx.span_id());
        assert_eq!(out[&REQUEST_ID], "caller-set");
    }

    #[tokio::test]
    async fn scope_makes_it_current() {
        assert!(TraceContext::current().is_none());
        let ctx = TraceContext::new_root();
        let id = ctx.trace_id();
        let seen = ctx
            .scope(async { TraceContext::with_current(TraceContext::trace_id) })
            .await;
        assert_eq!(seen, Some(id));
    }
}
