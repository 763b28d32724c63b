//! Whose metrics these are: the service a metric handle is made for.
//!
//! Several services can run in one process (the shop demo, a test, a modular monolith), and
//! the `metrics` facade has one global recorder. So that each service's `/metrics` shows its
//! own series, and two services' `client="catalog"` breakers do not write one gauge, the
//! chassis' recorder ([`ServiceLabels`]) adds a `service_name` label to every metric handle made
//! while a service is the current one ([`ServiceScope`]): during its start-up (router,
//! clients, breakers) and while its connections and request tasks are polled. Handles are
//! made once and kept, so this costs nothing per recorded value; a thread-local is set and
//! reset around each poll of a connection's task.
//!
//! Handles made outside any service (a task the service spawned itself, process metrics)
//! have no `service_name` label and appear at every service's `/metrics`.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString, Unit,
};
use pin_project_lite::pin_project;

/// The label naming the service a series belongs to.
pub const SERVICE_LABEL: &str = "service_name";

thread_local! {
    static CURRENT: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Service names, interned: a process has a handful, and a scope is a copyable `&'static`.
static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// A service whose metrics are being recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceScope(&'static str);

impl ServiceScope {
    /// The scope of the service `name`.
    pub fn new(name: &str) -> Self {
        let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = names.iter().find(|known| **known == name) {
            return Self(known);
        }
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        names.push(leaked);
        Self(leaked)
    }

    /// The service's name.
    pub fn name(self) -> &'static str {
        self.0
    }

    /// The scope of the code running now, if any.
    pub fn current() -> Option<Self> {
        CURRENT.with(Cell::get).map(Self)
    }

    /// Runs `f` with this scope current.
    pub fn enter<R>(self, f: impl FnOnce() -> R) -> R {
        let previous = CURRENT.with(|current| current.replace(Some(self.0)));
        let _restore = Restore(previous);
        f()
    }

    /// `future`, with this scope current on every poll.
    pub fn scope<F: Future>(self, future: F) -> InScope<F> {
        InScope {
            scope: self,
            future,
        }
    }
}

/// Puts the previous scope back, also when the scoped code panics.
struct Restore(Option<&'static str>);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.0));
    }
}

pin_project! {
    /// A future polled with a [`ServiceScope`] current.
    #[derive(Debug)]
    pub struct InScope<F> {
        scope: ServiceScope,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for InScope<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let future = this.future;
        this.scope.enter(|| future.poll(cx))
    }
}

/// Spawns tasks (hyper's HTTP/2 streams) in the scope that was current when it was made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScopedExecutor(Option<ServiceScope>);

impl ScopedExecutor {
    /// An executor for the scope current now.
    pub(crate) fn current() -> Self {
        Self(ServiceScope::current())
    }

    /// Wraps `future` in the executor's scope, if it has one.
    pub(crate) fn wrap<F: Future>(self, future: F) -> futures_util::future::Either<InScope<F>, F> {
        match self.0 {
            Some(scope) => futures_util::future::Either::Left(scope.scope(future)),
            None => futures_util::future::Either::Right(future),
        }
    }
}

impl<F> hyper::rt::Executor<F> for ScopedExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        tokio::spawn(self.wrap(future));
    }
}

/// A recorder adding the current service's `service_name` label (after the metric's own labels)
/// to every handle it makes.
#[derive(Debug)]
pub struct ServiceLabels<R> {
    inner: R,
}

impl<R> ServiceLabels<R> {
    /// Labels what `inner` records.
    pub fn new(inner: R) -> Self {
        Self { inner }
    }
}

/// `key` with the current service's label, when there is a current service.
fn labelled(key: &Key) -> Option<Key> {
    let scope = ServiceScope::current()?;
    if key.labels().any(|label| label.key() == SERVICE_LABEL) {
        return None;
    }
    let labels = key
        .labels()
        .cloned()
        .chain(std::iter::once(Label::new(SERVICE_LABEL, scope.name())))
        .collect::<Vec<_>>();
    Some(Key::from_parts(key.name().to_owned(), labels))
}

impl<R: Recorder> Recorder for ServiceLabels<R> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        match labelled(key) {
            Some(key) => self.inner.register_counter(&key, metadata),
            None => self.inner.register_counter(key, metadata),
        }
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        match labelled(key) {
            Some(key) => self.inner.register_gauge(&key, metadata),
            None => self.inner.register_gauge(key, metadata),
        }
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        match labelled(key) {
            Some(key) => self.inner.register_histogram(&key, metadata),
            None => self.inner.register_histogram(key, metadata),
        }
    }
}

/// The lines of a Prometheus text exposition that belong to `service`: series labelled with
/// it and series without a `service_name` label; a family's `# HELP` and `# TYPE` only when one
/// of its series is kept.
pub(crate) fn for_service(text: &str, service: &str) -> String {
    let own = format!("{SERVICE_LABEL}=\"{service}\"");
    let mut out = String::with_capacity(text.len());
    // The `#` lines of the family being read, written out with its first kept series.
    let mut header = String::new();
    let mut in_header = false;
    for line in text.lines() {
        if line.starts_with('#') {
            if !in_header {
                header.clear();
                in_header = true;
            }
            header.push_str(line);
            header.push('\n');
            continue;
        }
        in_header = false;
        if !line.is_empty() && keeps(line, &own) {
            out.push_str(&header);
            header.clear();
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Whether a sample line has no `service_name` label, or `own` (`service_name="name"`). Label values
/// are quoted and may hold commas or escaped quotes: the label set is walked, not split.
fn keeps(line: &str, own: &str) -> bool {
    let Some((_, labels)) = line.split_once('{') else {
        return true;
    };
    let bytes = labels.as_bytes();
    let mut at_label_start = true;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_quotes {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_quotes = false,
                _ => {}
            }
            continue;
        }
        if at_label_start && labels[i..].starts_with(&format!("{SERVICE_LABEL}=\"")) {
            let rest = &labels[i..];
            return rest.starts_with(own) && rest[own.len()..].starts_with([',', '}']);
        }
        at_label_start = false;
        match b {
            b'"' => in_quotes = true,
            b',' => at_label_start = true,
            b'}' => break,
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_current_inside_and_restored_after() {
        assert_eq!(ServiceScope::current(), None);
        let catalog = ServiceScope::new("catalog");
        assert_eq!(catalog, ServiceScope::new("catalog"), "interned");
        let orders = ServiceScope::new("orders");
        catalog.enter(|| {
            assert_eq!(ServiceScope::current(), Some(catalog));
            orders.enter(|| assert_eq!(ServiceScope::current(), Some(orders)));
            assert_eq!(ServiceScope::current(), Some(catalog));
        });
        assert_eq!(ServiceScope::current(), None);
    }

    #[test]
    fn each_service_sees_its_series_and_the_unlabelled_ones() {
        let text = "\
# HELP requests_total Requests.
# TYPE requests_total counter
requests_total{service_name=\"catalog\",route=\"/items\"} 3
requests_total{service_name=\"gateway\",route=\"/api\"} 5

# HELP only_gateway Only gateway.
# TYPE only_gateway gauge
only_gateway{service_name=\"gateway\"} 1

# TYPE process_open_fds gauge
process_open_fds 12
";
        let catalog = for_service(text, "catalog");
        assert_eq!(
            catalog,
            "# HELP requests_total Requests.\n# TYPE requests_total counter\n\
             requests_total{service_name=\"catalog\",route=\"/items\"} 3\n\
             # TYPE process_open_fds gauge\nprocess_open_fds 12\n"
        );
        let gateway = for_service(text, "gateway");
        assert!(gateway.contains("only_gateway{service_name=\"gateway\"} 1"));
        assert!(!gateway.contains("catalog"));
        assert!(!for_service(text, "catalogue").contains("service_name="));
        let tricky = "x{route=\"/a,service_name=\\\"gateway\\\"\",service_name=\"catalog\"} 1\n";
        assert_eq!(
            for_service(tricky, "catalog"),
            tricky,
            "a quoted comma is not a label"
        );
        assert_eq!(for_service(tricky, "gateway"), "");
    }
}
