//! Routing spans to the tracer provider of the service they belong to, with the chassis' own
//! ids.
//!
//! Each service of a process has its own tracer provider (its own `service.name` resource).
//! A request's SERVER span ([`server_span`]) and each attempt's CLIENT span ([`client_span`])
//! are built here directly through the SDK, handing the request's ids to the provider's
//! [`ChassisIds`] generator, so exported spans have the ids printed in logs and written in
//! the outbound `traceparent`. The spans a handler makes go through the one
//! `tracing-opentelemetry` layer, whose tracer is [`Router`]: it picks the provider of the
//! current service scope and parents a span without a parent span on the request's SERVER
//! span.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, PoisonError, RwLock};

use opentelemetry::Context;
use opentelemetry::trace::{
    Link, Span as _, SpanBuilder, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags,
    TraceId, TraceState, Tracer, TracerProvider as _,
};
use opentelemetry_sdk::trace::{IdGenerator, Sampler, SdkTracer, SdkTracerProvider, Span};

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
/// server span or whatever span the call is made under), exported by the tracer of `slot`
/// (the request's), else of the service current now, else the first installed one. `None`
/// when no tracer records it.
pub(crate) fn client_span(
    ids: (u128, u64),
    parent: (u64, u8),
    slot: Option<u32>,
    name: String,
    attributes: Vec<opentelemetry::KeyValue>,
) -> Option<Span> {
    let (trace, span) = ids;
    let (parent_id, flags) = parent;
    let trace_id = TraceId::from(trace);
    let slot = slot.or_else(current_slot);
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
        .with_kind(SpanKind::Client)
        .with_attributes(attributes);
    NEXT.set(Some((trace_id, SpanId::from(span))));
    let built = tracer.build_with_context(builder, &cx);
    NEXT.set(None);
    built.is_recording().then_some(built)
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

/// Starts the SERVER span of the request in `ctx`, with its ids, exported by the tracer of
/// `slot` (else the first installed). Its parent is the caller's span (a trusted
/// `traceparent`); an untrusted caller's position is a link. Returns the sampler's decision
/// and the span when it records; `None` when no tracer is installed.
pub(crate) fn server_span(
    ctx: &TraceContext,
    slot: Option<u32>,
    caller: Option<&CallerLink>,
) -> Option<(bool, Option<Span>)> {
    let tracers = TRACERS.read().unwrap_or_else(PoisonError::into_inner);
    let tracer = match slot {
        Some(slot) => tracers.get(slot as usize).and_then(Option::as_ref),
        None => tracers.iter().find_map(Option::as_ref),
    }?;
    let trace_id = TraceId::from(ctx.trace_id().get());
    let cx = match ctx.parent_id() {
        Some(parent) => Context::new().with_remote_span_context(SpanContext::new(
            trace_id,
            SpanId::from(parent.get()),
            TraceFlags::new(ctx.flags().bits()),
            true,
            TraceState::NONE,
        )),
        None => Context::new(),
    };
    // The name is the route's, given once the span is known to record.
    let mut builder = tracer
        .span_builder("http.server")
        .with_kind(SpanKind::Server);
    if let Some(CallerLink(caller)) = caller {
        // An untrusted caller's position: linked to, never the parent.
        builder = builder.with_links(vec![Link::with_context(SpanContext::new(
            TraceId::from(caller.trace_id.get()),
            SpanId::from(caller.parent_id.get()),
            TraceFlags::new(caller.flags.bits()),
            true,
            TraceState::NONE,
        ))]);
    }
    NEXT.set(Some((trace_id, SpanId::from(ctx.span_id().get()))));
    let span = tracer.build_with_context(builder, &cx);
    NEXT.set(None);
    let sampled = span.span_context().is_sampled();
    Some((sampled, span.is_recording().then_some(span)))
}

/// The tracer of the `tracing-opentelemetry` layer: builds the spans a handler makes with
/// the tracer of the request they are made in (else of the current service scope, else the
/// first installed service). A span without a parent span, made while a request runs, is a
/// child of the request's SERVER span (the task-local context's ids).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Router;

impl Tracer for Router {
    type Span = Span;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Span {
        let request = TraceContext::with_current(|ctx| {
            let server = SpanContext::new(
                TraceId::from(ctx.trace_id().get()),
                SpanId::from(ctx.span_id().get()),
                TraceFlags::new(ctx.flags().bits()),
                true,
                TraceState::NONE,
            );
            (ctx.export_slot(), server)
        });
        let slot = request
            .as_ref()
            .and_then(|(slot, _)| *slot)
            .or_else(current_slot);
        let tracers = TRACERS.read().unwrap_or_else(PoisonError::into_inner);
        let tracer = match slot {
            Some(slot) => tracers.get(slot as usize).and_then(Option::as_ref),
            None => tracers.iter().find_map(Option::as_ref),
        };
        let tracer = tracer.unwrap_or(&OFF);
        match request {
            Some((_, server)) if !parent_cx.span().span_context().is_valid() => {
                let cx = parent_cx.with_remote_span_context(server);
                tracer.build_with_context(builder, &cx)
            }
            _ => tracer.build_with_context(builder, parent_cx),
        }
    }
}

/// The slot of the service whose scope is current, if it exports.
fn current_slot() -> Option<u32> {
    let scope = crate::telemetry::metrics::ServiceScope::current()?;
    SLOTS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|(name, _)| *name == scope.name())
        .map(|(_, slot)| *slot)
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
