//! Routing spans to the tracer provider of the service that served the request, with the
//! chassis' own ids.
//!
//! One global `tracing` subscriber carries one `tracing-opentelemetry` layer, but each service
//! of a process has its own tracer provider (its own `service.name` resource). The layer's
//! tracer is [`Router`]: the server span's OpenTelemetry parent context (set by [`link`])
//! carries a [`Route`] value naming the service's slot and the request's ids; every span
//! below the server span inherits the value through its parent context. When the router
//! builds the server span itself it hands the request's ids to the provider's
//! [`ChassisIds`] generator, so the exported span has the ids printed in logs and written in
//! the outbound `traceparent`.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, PoisonError, RwLock};

use opentelemetry::Context;
use opentelemetry::trace::{
    SpanBuilder, SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
    TracerProvider as _,
};
use opentelemetry_sdk::trace::{IdGenerator, Sampler, SdkTracer, SdkTracerProvider, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::telemetry::propagation::{CallerLink, TraceContext};

/// The slot of each installed service, by service name (a client span's tracer is found
/// through the service scope it is made in).
static SLOTS: RwLock<Vec<(&'static str, u32)>> = RwLock::new(Vec::new());

/// Tracers of the installed services, by slot; `None` once a service shut its provider down.
static TRACERS: RwLock<Vec<Option<SdkTracer>>> = RwLock::new(Vec::new());
/// Number of installed (not yet shut down) providers.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// Builds non-recording spans when no provider is there (never exports).
static OFF: LazyLock<SdkTracer> = LazyLock::new(|| {
    SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .build()
        .tracer("chassis")
});

thread_local! {
    /// The ids the next span built on this thread must take (set around one `build` call).
    static NEXT: Cell<Option<(TraceId, SpanId)>> = const { Cell::new(None) };
}

/// Whether any service exports traces (one relaxed load: the whole cost when OTLP is off).
pub(crate) fn is_active() -> bool {
    ACTIVE.load(Ordering::Relaxed) > 0
}

/// Adds a service's tracer; returns its slot.
pub(super) fn register(tracer: SdkTracer) -> u32 {
    let mut tracers = TRACERS.write().unwrap_or_else(PoisonError::into_inner);
    tracers.push(Some(tracer));
    ACTIVE.fetch_add(1, Ordering::Relaxed);
    u32::try_from(tracers.len() - 1).unwrap_or(u32::MAX)
}

/// Names the service whose tracer is in `slot`.
pub(super) fn name(service: &str, slot: u32) {
    let name = crate::telemetry::metrics::ServiceScope::new(service).name();
    let mut slots = SLOTS.write().unwrap_or_else(PoisonError::into_inner);
    slots.retain(|(known, _)| *known != name);
    slots.push((name, slot));
}

/// Starts a CLIENT span with the ids given (its trace and span ids, and its parent, the
/// server span or whatever span the call is made under), exported by the tracer of the
/// service current now (else the first installed one). `None` when no tracer records it.
pub(crate) fn client_span(
    ids: (u128, u64),
    parent: (u64, u8),
    name: String,
    attributes: Vec<opentelemetry::KeyValue>,
) -> Option<Span> {
    let (trace, span) = ids;
    let (parent_id, flags) = parent;
    let trace_id = TraceId::from(trace);
    let slot = crate::telemetry::metrics::ServiceScope::current().and_then(|scope| {
        SLOTS
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(name, _)| *name == scope.name())
            .map(|(_, slot)| *slot)
    });
    let tracers = TRACERS.read().unwrap_or_else(PoisonError::into_inner);
    let tracer = match slot {
        Some(slot) => tracers.get(slot as usize).and_then(Option::as_ref),
        None => tracers.iter().find_map(Option::as_ref),
    }?;
    let parent = SpanContext::new(
        trace_id,
        SpanId::from(parent_id),
        TraceFlags::new(flags),
        true,
        TraceState::NONE,
    );
    let cx = Context::new().with_remote_span_context(parent);
    let builder = tracer
        .span_builder(name)
        .with_kind(opentelemetry::trace::SpanKind::Client)
        .with_attributes(attributes);
    NEXT.set(Some((trace_id, SpanId::from(span))));
    let built = tracer.build_with_context(builder, &cx);
    NEXT.set(None);
    opentelemetry::trace::Span::is_recording(&built).then_some(built)
}

/// Removes a service's tracer: its later spans are not recorded.
pub(super) fn unregister(slot: u32) {
    let mut tracers = TRACERS.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(entry) = tracers.get_mut(slot as usize)
        && entry.take().is_some()
    {
        ACTIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Which provider a request's spans go to and the server span's ids.
#[derive(Clone, Copy, Debug)]
struct Route {
    /// `None`: the first installed service (a server layer not tied to a service).
    slot: Option<u32>,
    trace_id: TraceId,
    span_id: SpanId,
}

/// Takes the ids of [`NEXT`] when set, else random ones (as the SDK's default generator).
#[derive(Debug, Default)]
pub(super) struct ChassisIds;

impl IdGenerator for ChassisIds {
    fn new_trace_id(&self) -> TraceId {
        NEXT.get()
            .map_or_else(|| TraceId::from(fastrand::u128(1..)), |(trace, _)| trace)
    }

    fn new_span_id(&self) -> SpanId {
        NEXT.get()
            .map_or_else(|| SpanId::from(fastrand::u64(1..)), |(_, span)| span)
    }
}

/// The tracer of the `tracing-opentelemetry` layer: routes each span to its service's
/// provider.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Router;

/// Span fields of the server span that duplicate the span's own ids.
const DUPLICATES: [&str; 2] = ["trace_id", "span_id"];

impl Tracer for Router {
    type Span = Span;

    fn build_with_context(&self, mut builder: SpanBuilder, parent_cx: &Context) -> Span {
        let route = parent_cx.get::<Route>().copied();
        // The server span itself, not a descendant (whose parent is the server span).
        let own = route.filter(|r| parent_cx.span().span_context().span_id() != r.span_id);
        if own.is_some()
            && let Some(attributes) = builder.attributes.as_mut()
        {
            attributes.retain(|kv| !DUPLICATES.contains(&kv.key.as_str()));
        }
        let tracers = TRACERS.read().unwrap_or_else(PoisonError::into_inner);
        let tracer = match route.and_then(|r| r.slot) {
            Some(slot) => tracers.get(slot as usize).and_then(Option::as_ref),
            None => tracers.iter().find_map(Option::as_ref),
        };
        let tracer = tracer.unwrap_or(&OFF);
        NEXT.set(own.map(|r| (r.trace_id, r.span_id)));
        let span = tracer.build_with_context(builder, parent_cx);
        NEXT.set(None);
        span
    }
}

/// Makes the request span the OpenTelemetry span of `ctx`: its parent is the caller's span
/// from `traceparent` (if any), its ids are `ctx`'s, its provider the one of `slot`.
/// Returns whether the span is sampled, `None` when the span has no OpenTelemetry data.
pub(crate) fn link(
    span: &tracing::Span,
    ctx: &TraceContext,
    slot: Option<u32>,
    caller: Option<&CallerLink>,
) -> Option<bool> {
    if let Some(CallerLink(caller)) = caller {
        // An untrusted caller's position: linked to, never the parent.
        span.add_link(SpanContext::new(
            TraceId::from(caller.trace_id.get()),
            SpanId::from(caller.parent_id.get()),
            TraceFlags::new(caller.flags.bits()),
            true,
            TraceState::NONE,
        ));
    }
    let trace_id = TraceId::from(ctx.trace_id().get());
    let mut cx = Context::new();
    if let Some(parent) = ctx.parent_id() {
        let parent = SpanContext::new(
            trace_id,
            SpanId::from(parent.get()),
            TraceFlags::new(ctx.flags().bits()),
            true,
            TraceState::NONE,
        );
        cx = cx.with_remote_span_context(parent);
    }
    let cx = cx.with_value(Route {
        slot,
        trace_id,
        span_id: SpanId::from(ctx.span_id().get()),
    });
    span.set_parent(cx).ok()?;
    let started = span.context();
    let started = started.span();
    let started = started.span_context();
    started.is_valid().then(|| started.is_sampled())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_next_when_set() {
        let ids = ChassisIds;
        let (t, s) = (TraceId::from(7_u128), SpanId::from(9_u64));
        NEXT.set(Some((t, s)));
        assert_eq!(ids.new_trace_id(), t);
        assert_eq!(ids.new_span_id(), s);
        NEXT.set(None);
        assert_ne!(ids.new_span_id(), s);
        assert_ne!(ids.new_span_id(), SpanId::INVALID);
    }
}
