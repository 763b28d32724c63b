//! Metric handles cached per (route, method, status): no lock and no label lookup per request.
//!
//! `axum::Router::layer` calls [`Layer::layer`](tower::Layer::layer) once per route endpoint,
//! so each service instance sees one route template. The instance learns it from the first
//! request and keeps a direct pointer to that route's [`RouteMetrics`]; later requests check the
//! template with one string comparison and index fixed arrays by method and status, each slot a
//! `OnceLock` filled on first use. Only when an instance sees a second template (the layer put
//! outside the router) does it fall back to a map behind a read lock.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use metrics::{Gauge, Histogram};

use super::labels::{METHODS, UNMATCHED_ROUTE, method_label, span_method};
use crate::telemetry::metrics::names;

/// Status codes 100..=999 in nine classes of a hundred.
const CLASSES: usize = 9;
type StatusSlots = [OnceLock<Histogram>; 100];

/// Everything one route needs per request.
#[derive(Debug)]
pub(crate) struct RouteMetrics {
    /// The template, `None` for unmatched requests.
    template: Option<Box<str>>,
    methods: [OnceLock<MethodMetrics>; METHODS],
}

#[derive(Debug)]
pub(crate) struct MethodMetrics {
    /// `GET /items/{id}`: the span's `otel.name`, built once.
    pub(crate) span_name: Box<str>,
    statuses: [OnceLock<Box<StatusSlots>>; CLASSES],
}

impl RouteMetrics {
    fn new(template: Option<&str>) -> Self {
        Self {
            template: template.map(Box::from),
            methods: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    /// The `http_route` label value.
    pub(crate) fn label(&self) -> &str {
        self.template.as_deref().unwrap_or(UNMATCHED_ROUTE)
    }

    /// The template for the `http.route` span attribute (`None` when unmatched).
    pub(crate) fn template(&self) -> Option<&str> {
        self.template.as_deref()
    }

    fn is(&self, template: Option<&str>) -> bool {
        self.template.as_deref() == template
    }

    pub(crate) fn method(&self, slot: usize) -> &MethodMetrics {
        self.methods[slot].get_or_init(|| MethodMetrics {
            span_name: match &self.template {
                Some(t) => format!("{} {t}", span_method(slot)).into(),
                None => span_method(slot).into(),
            },
            statuses: std::array::from_fn(|_| OnceLock::new()),
        })
    }

    /// The duration histogram of (this route, method `slot`, `status`).
    pub(crate) fn duration(&self, slot: usize, status: u16) -> &Histogram {
        let status = status.clamp(100, 999);
        let class = usize::from(status / 100 - 1);
        let slots = self.method(slot).statuses[class]
            .get_or_init(|| Box::new(std::array::from_fn(|_| OnceLock::new())));
        slots[usize::from(status % 100)].get_or_init(|| {
            metrics::histogram!(
                names::HTTP_SERVER_REQUEST_DURATION,
                names::METHOD_LABEL => method_label(slot),
                names::ROUTE_LABEL => self.label().to_owned(),
                names::STATUS_LABEL => status.to_string(),
            )
        })
    }
}

/// State shared by every service instance one layer made.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    active: [OnceLock<Gauge>; METHODS],
    unmatched: OnceLock<Arc<RouteMetrics>>,
    routes: RwLock<HashMap<Box<str>, Arc<RouteMetrics>>>,
}

impl Shared {
    /// The `http_server_active_requests` gauge of a method slot.
    pub(crate) fn active(&self, slot: usize) -> &Gauge {
        self.active[slot].get_or_init(|| {
            metrics::gauge!(names::HTTP_SERVER_ACTIVE_REQUESTS, names::METHOD_LABEL => method_label(slot))
        })
    }

    /// The metrics of a route template (slow path: a map lookup under a read lock).
    pub(crate) fn route(&self, template: Option<&str>) -> Arc<RouteMetrics> {
        let Some(template) = template else {
            return Arc::clone(
                self.unmatched
                    .get_or_init(|| Arc::new(RouteMetrics::new(None))),
            );
        };
        if let Some(found) = self
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(template)
        {
            return Arc::clone(found);
        }
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            routes
                .entry(template.into())
                .or_insert_with(|| Arc::new(RouteMetrics::new(Some(template)))),
        )
    }
}

/// One service instance: the layer's shared state plus the route this instance serves.
#[derive(Debug)]
pub(crate) struct Instance {
    pub(crate) shared: Arc<Shared>,
    own: OnceLock<Arc<RouteMetrics>>,
}

/// Which route metrics a request uses.
#[derive(Debug)]
pub(crate) enum RouteRef {
    /// The instance's own route (the fast path).
    Own,
    /// Another template seen by this instance.
    Other(Arc<RouteMetrics>),
}

impl Instance {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            own: OnceLock::new(),
        }
    }

    /// Finds the route metrics for a request's matched template.
    pub(crate) fn resolve(&self, template: Option<&str>) -> RouteRef {
        let own = self.own.get_or_init(|| self.shared.route(template));
        if own.is(template) {
            RouteRef::Own
        } else {
            RouteRef::Other(self.shared.route(template))
        }
    }

    /// The metrics a [`RouteRef`] points at.
    pub(crate) fn get<'a>(&'a self, route: &'a RouteRef) -> Option<&'a RouteMetrics> {
        match route {
            RouteRef::Own => self.own.get().map(AsRef::as_ref),
            RouteRef::Other(other) => Some(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::DebuggingRecorder;

    use super::*;

    #[test]
    fn an_instance_keeps_its_first_route_and_looks_up_others() {
        let shared = Arc::new(Shared::default());
        let instance = Instance::new(Arc::clone(&shared));
        assert!(matches!(
            instance.resolve(Some("/items/{id}")),
            RouteRef::Own
        ));
        assert!(matches!(
            instance.resolve(Some("/items/{id}")),
            RouteRef::Own
        ));
        let other = instance.resolve(Some("/orders"));
        assert_eq!(
            instance.get(&other).map(RouteMetrics::label),
            Some("/orders")
        );
        let unmatched = instance.resolve(None);
        assert_eq!(
            instance.get(&unmatched).map(RouteMetrics::label),
            Some(UNMATCHED_ROUTE)
        );
        // Another instance of the same layer shares the route's metrics.
        let sibling = Instance::new(shared);
        let RouteRef::Other(orders) = other else {
            panic!("expected the shared map");
        };
        sibling.resolve(Some("/orders"));
        let mine = sibling.own.get().expect("initialised");
        assert!(Arc::ptr_eq(mine, &orders));
    }

    #[test]
    fn span_names_and_histogram_labels() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let route = RouteMetrics::new(Some("/items/{id}"));
            assert_eq!(&*route.method(0).span_name, "GET /items/{id}");
            assert_eq!(&*route.method(METHODS - 1).span_name, "HTTP /items/{id}");
            assert_eq!(&*RouteMetrics::new(None).method(2).span_name, "POST");
            route.duration(0, 200).record(0.1);
            route.duration(0, 200).record(0.2);
            route.duration(0, 1000).record(0.3); // out of range: clamped, never a panic
        });
        let mut seen: Vec<(String, usize)> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter_map(|(key, _, _, value)| match value {
                metrics_util::debugging::DebugValue::Histogram(v) => Some((
                    key.key()
                        .labels()
                        .map(|l| format!("{}={}", l.key(), l.value()))
                        .collect::<Vec<_>>()
                        .join(","),
                    v.len(),
                )),
                _ => None,
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                (
                    "http_request_method=GET,http_route=/items/{id},http_response_status_code=200"
                        .to_owned(),
                    2
                ),
                (
                    "http_request_method=GET,http_route=/items/{id},http_response_status_code=999"
                        .to_owned(),
                    1
                ),
            ]
        );
    }
}
