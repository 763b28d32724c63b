//! Power-of-two-choices balancing over a live endpoint set, with a circuit breaker per
//! endpoint (outlier ejection).
//!
//! Each call draws two endpoints at random and takes the one with the lower load estimate,
//! `(in flight + 1) x peak-EWMA latency`, the latency halving every [`HALF_LIFE`] without a
//! new sample (so an endpoint that was slow once is tried again, as tower's and Finagle's
//! peak EWMA decay with time); an endpoint whose breaker is open is skipped, and one drawn
//! whose breaker is open or half-open gets its trial calls before load is compared (by load
//! it would wait for the others to become slower than its estimate from before it was
//! ejected). Ejection never empties the set: when every endpoint's
//! breaker is open (a single instance, or a whole service down), calls go to the best
//! candidate anyway and the client's own breaker decides, as Envoy's panic threshold does.
//! The endpoint set is replaced when discovery publishes a new one; endpoints that stay keep
//! their breaker and latency history.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use axum::body::Body;
use http::uri::{Authority, Parts, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use tokio_util::sync::{CancellationToken, DropGuard};
use tower::{BoxError, Service};

use super::base_url::under;
use super::ejections::{Ejections, Mark};
use super::error::{NoEndpoint, tls_failure};
use super::outcomes::OutcomeCounters;
use super::pool::Pool;
use super::request::RouteTemplate;
use super::transport::TransportError;
use crate::discovery::{EndpointSet, Endpoints as Discovered};
use crate::resilience::blame::{Cause, Failure, InvalidRequest, Verdict};
use crate::resilience::breaker::{
    BreakerConfig, BreakerConfigError, CircuitBreaker, OwnedPermit, State,
};
use crate::resilience::retry::{ResendCount, RetryBody};
use crate::resilience::timeout::OwnTimer;
use crate::telemetry::client_span::{AttemptSpan, Call};

/// The request body the balancer sends (replayable by the retry layer).
pub(crate) type OutBody = RetryBody<Body>;

/// The latency estimate of an endpoint no call has measured yet, when no endpoint of the set
/// has been measured either. Once some have, an unmeasured endpoint is estimated at their
/// mean: a new endpoint neither takes every draw it is in (an estimate of zero would) nor
/// none (a fixed default above the others' would), as tower's and Finagle's `PeakEwma`
/// default estimates mean to.
const DEFAULT_RTT: Duration = Duration::from_millis(10);
/// `latency_micros` of an endpoint no call has measured yet.
const UNMEASURED: u64 = u64::MAX;
/// What a failure charged to an endpoint counts as, at least, in its latency estimate: twice
/// its estimate before (so each failure in a row halves its share of draws), and never less
/// than this. An endpoint that fails fast must not look fast and draw traffic until its
/// breaker ejects it.
const FAILURE_FLOOR: Duration = Duration::from_millis(5);
/// How long the latency estimate of an endpoint takes to halve without a new sample.
const HALF_LIFE: Duration = Duration::from_secs(1);
/// [`HALF_LIFE`] in microseconds, the unit of the estimates.
#[allow(
    clippy::cast_possible_truncation,
    reason = "a second in microseconds fits"
)]
const HALF_LIFE_MICROS: u64 = HALF_LIFE.as_micros() as u64;

/// One endpoint and what the balancer knows of it.
#[derive(Debug)]
pub(crate) struct Endpoint {
    authority: String,
    /// `authority` parsed once, `None` if it does not parse (each call then reports why).
    parsed: Option<Authority>,
    in_flight: AtomicUsize,
    /// Peak-EWMA of the response time, in microseconds, as of `sampled_at`; [`UNMEASURED`]
    /// until the first sample.
    latency_micros: AtomicU64,
    /// When `latency_micros` was last updated, in microseconds since the set's epoch.
    sampled_at: AtomicU64,
    breaker: CircuitBreaker,
    /// The client's attempt outcomes, shared by its endpoints.
    outcomes: Arc<OutcomeCounters>,
    /// What the client's ejection count knows of this endpoint.
    mark: Arc<Mark>,
}

impl Endpoint {
    /// A new endpoint, not measured yet.
    fn new(
        authority: &str,
        breaker: CircuitBreaker,
        outcomes: Arc<OutcomeCounters>,
        mark: Arc<Mark>,
    ) -> Self {
        Self {
            authority: authority.to_owned(),
            parsed: authority.parse().ok(),
            in_flight: AtomicUsize::new(0),
            latency_micros: AtomicU64::new(UNMEASURED),
            sampled_at: AtomicU64::new(0),
            breaker,
            outcomes,
            mark,
        }
    }

    /// `(in flight + 1) x` the latency estimate, `unmeasured` standing in for an endpoint
    /// not measured yet.
    fn load(&self, now: u64, unmeasured: &mut impl FnMut() -> u64) -> u64 {
        let in_flight = self.in_flight.load(Ordering::Relaxed) as u64;
        let latency = self.latency(now).unwrap_or_else(unmeasured);
        (in_flight + 1) * latency.max(1)
    }

    /// The latency estimate at `now`: halved for every half-life since the last sample;
    /// `None` before the first sample.
    fn latency(&self, now: u64) -> Option<u64> {
        let estimate = self.latency_micros.load(Ordering::Relaxed);
        if estimate == UNMEASURED {
            return None;
        }
        let age = now.saturating_sub(self.sampled_at.load(Ordering::Relaxed));
        let halvings = age / HALF_LIFE_MICROS;
        Some(
            estimate
                .checked_shr(u32::try_from(halvings).unwrap_or(u32::MAX))
                .unwrap_or(0),
        )
    }

    /// Takes a response time observed at `now`.
    fn observe(&self, elapsed: Duration, now: u64) {
        let sample = micros(elapsed).min(UNMEASURED - 1);
        // Peak-sensitive: a slow response counts at once, recovery decays by 1/8 per call;
        // the first sample replaces the stand-in.
        let new = match self.latency(now) {
            Some(old) if sample <= old => old - (old - sample) / 8,
            _ => sample,
        };
        self.latency_micros.store(new, Ordering::Relaxed);
        self.sampled_at.store(now, Ordering::Relaxed);
    }

    /// The endpoint's address, `host:port`.
    pub(crate) fn authority(&self) -> &str {
        &self.authority
    }

    /// The state of the endpoint's breaker.
    pub(crate) fn breaker_state(&self) -> State {
        self.breaker.state()
    }
}

/// The shared endpoint set of one client.
#[derive(Debug)]
pub(crate) struct Endpoints {
    service: String,
    /// The configuration of each endpoint's breaker (outlier ejection).
    breaker: Mutex<BreakerConfig>,
    outcomes: Arc<OutcomeCounters>,
    ejections: Arc<Ejections>,
    current: RwLock<Arc<[Arc<Endpoint>]>>,
    /// What the endpoints' sample times count from.
    pub(crate) epoch: Instant,
    /// Keeps discovery's watch of the service alive as long as the client lives.
    _source: Discovered,
    /// Ends the follow task when the last clone of the client goes, even if the endpoint
    /// set never changes again (which may be never).
    _follow: DropGuard,
}

impl Endpoints {
    /// Follows the live set `source`, replacing the endpoints whenever it changes.
    pub(crate) fn follow(service: &str, breaker: BreakerConfig, source: Discovered) -> Arc<Self> {
        let mut sets = source.watch();
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let endpoints = Arc::new(Self {
            service: service.to_owned(),
            breaker: Mutex::new(breaker),
            outcomes: Arc::new(OutcomeCounters::new(service, "attempt")),
            ejections: Ejections::new(service),
            current: RwLock::new(Arc::from(Vec::new())),
            epoch: Instant::now(),
            _source: source,
            _follow: stop.drop_guard(),
        });
        endpoints.replace(&addresses(&sets.borrow_and_update()));
        let weak = Arc::downgrade(&endpoints);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    () = stopped.cancelled() => break,
                    changed = sets.changed() => if changed.is_err() { break },
                }
                let Some(endpoints) = weak.upgrade() else {
                    break;
                };
                endpoints.replace(&addresses(&sets.borrow_and_update()));
            }
        });
        endpoints
    }

    /// Takes a new outlier-ejection configuration: each endpoint's breaker is retuned in
    /// place (its state kept), or, when the window changed, every endpoint starts over with a
    /// new breaker (ejections lifted). Endpoints found later get it too.
    pub(crate) fn reconfigure(&self, config: &BreakerConfig) -> Result<(), BreakerConfigError> {
        config.validate()?;
        let mut current = self.breaker.lock().unwrap_or_else(PoisonError::into_inner);
        let window_changed = current.window != config.window;
        *current = config.clone();
        drop(current);
        if window_changed {
            let addresses: Vec<String> = self
                .snapshot()
                .iter()
                .map(|e| e.authority.clone())
                .collect();
            self.rebuild(&addresses, false);
        } else {
            for endpoint in self.snapshot().iter() {
                endpoint.breaker.reconfigure(config)?;
            }
        }
        Ok(())
    }

    fn replace(&self, addresses: &[String]) {
        self.rebuild(addresses, true);
    }

    /// The endpoints at `addresses`; those already known are kept when `keep`.
    fn rebuild(&self, addresses: &[String], keep: bool) {
        // Held to the end: discovery and a reconfiguration rebuild one after the other.
        let config = self.breaker.lock().unwrap_or_else(PoisonError::into_inner);
        let old = self.snapshot();
        let next: Vec<Arc<Endpoint>> = addresses
            .iter()
            .filter_map(|authority| {
                if let Some(kept) = old.iter().find(|e| &e.authority == authority)
                    && keep
                {
                    return Some(Arc::clone(kept));
                }
                let mark = Arc::new(Mark::default());
                // Its breaker reports only through the client's aggregate: no address in a
                // label, no series outliving the endpoint.
                let built = CircuitBreaker::builder(format!("{}@{authority}", self.service))
                    .config(BreakerConfig::clone(&config))
                    .listener(self.ejections.listener(&mark))
                    .without_metrics()
                    .build();
                match built {
                    Ok(breaker) => Some(Arc::new(Endpoint::new(
                        authority,
                        breaker,
                        Arc::clone(&self.outcomes),
                        mark,
                    ))),
                    Err(error) => {
                        tracing::error!(%error, "invalid breaker configuration");
                        None
                    }
                }
            })
            .collect();
        for gone in old
            .iter()
            .filter(|e| !keep || !addresses.contains(&e.authority))
        {
            self.ejections.retire(&gone.mark);
        }
        tracing::debug!(service = %self.service, endpoints = ?addresses, "endpoint set updated");
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::from(next);
        drop(config);
    }

    /// The endpoints now.
    pub(crate) fn snapshot(&self) -> Arc<[Arc<Endpoint>]> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Picks an endpoint whose breaker admits a call, or the best one without a permit when
    /// every breaker is open.
    pub(crate) fn pick(&self, now: u64) -> Result<(Arc<Endpoint>, Option<OwnedPermit>), BoxError> {
        let list = self.snapshot();
        if list.is_empty() {
            return Err(NoEndpoint(self.service.clone()).into());
        }
        let n = list.len();
        let a = fastrand::usize(..n);
        let b = if n > 1 {
            (a + 1 + fastrand::usize(..n - 1)) % n
        } else {
            a
        };
        let mut typical = None;
        let mut unmeasured = || *typical.get_or_insert_with(|| typical_latency(&list, now));
        let (first, second) =
            if list[a].load(now, &mut unmeasured) <= list[b].load(now, &mut unmeasured) {
                (a, b)
            } else {
                (b, a)
            };
        // An ejected endpoint drawn gets its trial calls first, as soon as its breaker lets
        // them through (while the wait lasts it refuses, and the order below goes on).
        let (first, second) =
            if matches!(list[second].breaker.state(), State::Open | State::HalfOpen) {
                (second, first)
            } else {
                (first, second)
            };
        let order = [first, second]
            .into_iter()
            .chain((0..n).map(|i| (first + i) % n));
        for index in order {
            let endpoint = &list[index];
            if let Ok(permit) = endpoint.breaker.try_acquire_owned() {
                return Ok((Arc::clone(endpoint), Some(permit)));
            }
        }
        Ok((Arc::clone(&list[first]), None))
    }
}

/// An endpoint picked for an attempt, the request addressed to it.
pub(crate) struct Picked {
    pub(crate) endpoint: Arc<Endpoint>,
    pub(crate) permit: Option<OwnedPermit>,
    /// When the attempt started.
    pub(crate) start: Instant,
}

impl Endpoints {
    /// Picks an endpoint for `request` and points its URI at it (`scheme`, under `prefix`):
    /// the first steps of every attempt, HTTP or gRPC.
    pub(crate) fn pick_for<B>(
        &self,
        request: &mut Request<B>,
        scheme: Scheme,
        prefix: &str,
    ) -> Result<Picked, BoxError> {
        let start = Instant::now();
        let (endpoint, permit) = self.pick(micros_since(self.epoch, start))?;
        *request.uri_mut() = absolute(request.uri(), &endpoint, scheme, prefix)
            .map_err(|error| -> BoxError { Box::new(InvalidRequest::new(error)) })?;
        Ok(Picked {
            endpoint,
            permit,
            start,
        })
    }
}

/// The innermost service: picks an endpoint, sends the request over a pooled connection.
#[derive(Debug, Clone)]
pub(crate) struct Balancer {
    endpoints: Arc<Endpoints>,
    /// Behind an `Arc`: the retry layer clones the whole stack for every call, and
    /// hyper-util's `Client` is a large value holding several `Arc`s of its own.
    http: Arc<Pool>,
    /// The base URL's path, every request's path goes under (empty for none).
    prefix: Arc<str>,
}

impl Balancer {
    pub(crate) fn new(endpoints: Arc<Endpoints>, http: Pool, prefix: &str) -> Self {
        Self {
            endpoints,
            http: Arc::new(http),
            prefix: Arc::from(prefix),
        }
    }
}

impl Service<Request<OutBody>> for Balancer {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<OutBody>) -> Self::Future {
        let picked = match self
            .endpoints
            .pick_for(&mut request, self.http.scheme(), &self.prefix)
        {
            Ok(picked) => picked,
            Err(error) => return Box::pin(std::future::ready(Err(error))),
        };
        let (mut parts, body) = request.into_parts();
        let timer = parts.extensions.get::<OwnTimer>().copied();
        // Each attempt is its own request to the callee: its own span id as the
        // `traceparent` parent-id, and its own CLIENT span when traces are exported.
        let call = Call {
            template: parts.extensions.get::<RouteTemplate>().map(|t| t.0),
            resends: parts.extensions.get::<ResendCount>().map_or(0, |r| r.0),
            authority: picked.endpoint.authority(),
            rpc: None,
        };
        let span = AttemptSpan::start(&mut parts, &call);
        let mut attempt = InFlight::start(picked, self.endpoints.epoch, timer, span);
        // The client's future holds what it needs; no clone of the client here.
        let response = self.http.request(Request::from_parts(parts, body));
        Box::pin(async move {
            match response.await {
                Ok(response) => {
                    attempt.answered(response.status());
                    Ok(response.map(Body::new))
                }
                Err(error) => Err(attempt.transport_failed(error)),
            }
        })
    }
}

/// One attempt on an endpoint: counted in flight until it ends, however it ends. An attempt
/// dropped before its response counts as a failure of the endpoint, with the time it took,
/// only when the client's own timer cut it (so an endpoint that hangs is ejected); dropped
/// earlier, the caller gave up or its deadline came first, and nothing is charged (a
/// half-open trial slot is given back).
pub(crate) struct InFlight {
    pub(crate) endpoint: Arc<Endpoint>,
    permit: Option<OwnedPermit>,
    /// The epoch of the endpoints' sample times.
    epoch: Instant,
    start: Instant,
    /// When the client's own tightest timer fires, if it has one.
    timer: Option<OwnTimer>,
    span: AttemptSpan,
}

impl InFlight {
    /// The attempt on `picked`'s endpoint begins (`epoch`: that of the endpoints' samples).
    pub(crate) fn start(
        picked: Picked,
        epoch: Instant,
        timer: Option<OwnTimer>,
        span: AttemptSpan,
    ) -> Self {
        let Picked {
            endpoint,
            permit,
            start,
        } = picked;
        endpoint.in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            endpoint,
            permit,
            epoch,
            start,
            timer,
            span,
        }
    }

    /// The attempt failed with no answer: judged (a TLS failure is a transport failure,
    /// named apart in its span), and the error named by its endpoint.
    pub(crate) fn transport_failed(
        &mut self,
        error: hyper_util::client::legacy::Error,
    ) -> BoxError {
        if tls_failure(&error).is_some() {
            self.failed_as(Verdict::of_error(&error), "tls");
        } else {
            self.failed(Verdict::of_error(&error));
        }
        Box::new(TransportError::new(self.endpoint.authority(), error))
    }

    /// The endpoint answered `status`.
    pub(crate) fn answered(&mut self, status: http::StatusCode) {
        self.span.answered(status.as_u16());
        self.finish(Verdict::of_status(status));
    }

    /// The endpoint answered gRPC status `code`, judged `verdict`.
    #[cfg(feature = "grpc")]
    pub(crate) fn judged_rpc(&mut self, code: i32, verdict: Verdict) {
        self.span.answered_rpc(code);
        self.finish(verdict);
    }

    /// The attempt failed with no answer.
    pub(crate) fn failed(&mut self, verdict: Verdict) {
        self.failed_as(verdict, verdict.kind());
    }

    /// The attempt failed with no answer, its span's `error.type` being `error_type`.
    pub(crate) fn failed_as(&mut self, verdict: Verdict, error_type: &str) {
        self.span.failed(error_type);
        self.finish(verdict);
    }

    fn finish(&mut self, verdict: Verdict) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.start);
        let at = micros_since(self.epoch, now);
        let sample = match verdict {
            Verdict::Failure(_) => {
                let doubled = self.endpoint.latency(at).unwrap_or(0).saturating_mul(2);
                Some(
                    elapsed
                        .max(FAILURE_FLOOR)
                        .max(Duration::from_micros(doubled)),
                )
            }
            Verdict::NotCharged(_) => None,
            _ => Some(elapsed),
        };
        if let Some(sample) = sample {
            self.endpoint.observe(sample, at);
        }
        self.endpoint.outcomes.record(verdict);
        if let Some(permit) = self.permit.take() {
            permit.record_with_duration(verdict.outcome(), elapsed);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.endpoint.in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.permit.is_none() {
            // Its span, if it is still open, ends as `timeout` or `cancelled` below.
            if self.timer.is_some_and(OwnTimer::has_fired) {
                self.span.failed("timeout");
            }
            return;
        }
        if self.timer.is_some_and(OwnTimer::has_fired) {
            self.failed(Verdict::Failure(Failure::Timeout));
        } else {
            // Dropping the permit unrecorded gives a half-open trial slot back.
            self.permit = None;
            self.endpoint
                .outcomes
                .record(Verdict::NotCharged(Cause::Cancelled));
        }
    }
}

/// The estimate for an endpoint not measured yet: the mean of the measured ones' estimates,
/// or [`DEFAULT_RTT`] when none is measured.
fn typical_latency(list: &[Arc<Endpoint>], now: u64) -> u64 {
    let (sum, n) = list
        .iter()
        .filter_map(|e| e.latency(now))
        .fold((0u64, 0u64), |(sum, n), l| (sum.saturating_add(l), n + 1));
    sum.checked_div(n).unwrap_or_else(|| micros(DEFAULT_RTT))
}

/// Whole microseconds, saturating.
fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// `at` in microseconds since `epoch`.
pub(crate) fn micros_since(epoch: Instant, at: Instant) -> u64 {
    micros(at.saturating_duration_since(epoch))
}

fn addresses(set: &EndpointSet) -> Vec<String> {
    set.iter()
        .map(|endpoint| endpoint.address.to_string())
        .collect()
}

/// The URI of an attempt: `scheme://endpoint`, then the request's path (and query) under
/// `prefix`.
pub(crate) fn absolute(
    uri: &Uri,
    endpoint: &Endpoint,
    scheme: Scheme,
    prefix: &str,
) -> Result<Uri, BoxError> {
    let authority = match &endpoint.parsed {
        Some(parsed) => parsed.clone(),
        None => endpoint.authority.parse::<Authority>()?,
    };
    let path_and_query = match uri.path_and_query() {
        Some(path) if prefix.is_empty() => path.clone(),
        None if prefix.is_empty() => PathAndQuery::from_static("/"),
        path => PathAndQuery::try_from(under(prefix, path.map_or("/", PathAndQuery::as_str)))?,
    };
    let mut parts = Parts::default();
    parts.scheme = Some(scheme);
    parts.authority = Some(authority);
    parts.path_and_query = Some(path_and_query);
    Ok(Uri::from_parts(parts)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(authority: &str) -> Endpoint {
        let breaker = CircuitBreaker::new("test", &BreakerConfig::default()).expect("breaker");
        Endpoint::new(
            authority,
            breaker,
            Arc::new(OutcomeCounters::new("test", "attempt")),
            Arc::default(),
        )
    }

    #[test]
    fn the_endpoint_replaces_the_authority_and_keeps_path_and_query() {
        let uri: Uri = "/items/7?fields=name".parse().expect("uri");
        let made = absolute(&uri, &endpoint("10.0.0.5:8081"), Scheme::HTTP, "").expect("absolute");
        assert_eq!(made, "http://10.0.0.5:8081/items/7?fields=name");
        let bare: Uri = "http://elsewhere:1".parse().expect("uri");
        let rooted =
            absolute(&bare, &endpoint("10.0.0.5:8081"), Scheme::HTTP, "").expect("absolute");
        assert_eq!(rooted, "http://10.0.0.5:8081/");
    }

    #[test]
    fn a_base_url_gives_the_scheme_and_the_path_prefix() {
        let uri: Uri = "/items/7?fields=name".parse().expect("uri");
        let api = endpoint("api.example.com:443");
        let made = absolute(&uri, &api, Scheme::HTTPS, "/v1").expect("absolute");
        assert_eq!(made, "https://api.example.com:443/v1/items/7?fields=name");
        let bare: Uri = "http://elsewhere:1".parse().expect("uri");
        let rooted = absolute(&bare, &api, Scheme::HTTPS, "/v1").expect("absolute");
        assert_eq!(rooted, "https://api.example.com:443/v1/");
    }

    #[test]
    fn an_estimate_halves_every_half_life_without_a_sample() {
        let endpoint = endpoint("10.0.0.5:8081");
        let half = HALF_LIFE_MICROS;
        assert_eq!(endpoint.latency(0), None, "not measured yet");
        endpoint.observe(Duration::from_millis(8), 0);
        assert_eq!(
            endpoint.latency(0),
            Some(8_000),
            "the first sample replaces the stand-in"
        );
        assert_eq!(endpoint.latency(half - 1), Some(8_000));
        assert_eq!(endpoint.latency(half), Some(4_000));
        assert_eq!(endpoint.latency(3 * half), Some(1_000));
        assert_eq!(endpoint.latency(100 * half), Some(0));
        // A faster sample pulls the decayed estimate down by an eighth of the difference.
        endpoint.observe(Duration::from_micros(200), 3 * half);
        assert_eq!(endpoint.latency(3 * half), Some(900));
    }

    #[tokio::test]
    async fn an_ejected_endpoint_drawn_gets_its_trial_call_first() {
        use crate::discovery::{Endpoint as Listed, Endpoints as Discovered};
        let addresses = ["127.0.0.1:1", "127.0.0.1:2"].map(|a| a.parse().expect("address"));
        let source = Discovered::fixed(
            "svc",
            addresses.map(|a: std::net::SocketAddr| Listed::new(a)),
        );
        let endpoints = Endpoints::follow("svc", BreakerConfig::default(), source);
        let list = endpoints.snapshot();
        let (slow, fast) = (&list[0], &list[1]);
        slow.observe(Duration::from_millis(50), 0);
        fast.observe(Duration::from_millis(1), 0);
        let picks = |n: usize| -> Vec<bool> {
            (0..n)
                .map(|_| {
                    let (picked, permit) = endpoints.pick(0).expect("an endpoint");
                    assert!(permit.is_some());
                    Arc::ptr_eq(&picked, slow)
                })
                .collect()
        };
        // By load the slow one loses every draw, ejected (open) or not.
        assert_eq!(picks(10), [false; 10]);
        slow.breaker.open();
        assert_eq!(picks(10), [false; 10]);
        // Once its wait is over it gets the trial call, slower or not.
        slow.breaker.half_open();
        assert_eq!(picks(1), [true]);
    }

    /// Picks `n` times with no call finishing (as under concurrency), returning how many
    /// went to each endpoint.
    fn concurrent_picks(endpoints: &Endpoints, n: usize) -> Vec<usize> {
        let list = endpoints.snapshot();
        let mut counts = vec![0; list.len()];
        for _ in 0..n {
            let (picked, _permit) = endpoints.pick(0).expect("an endpoint");
            picked.in_flight.fetch_add(1, Ordering::Relaxed);
            let index = list
                .iter()
                .position(|e| Arc::ptr_eq(e, &picked))
                .expect("listed");
            counts[index] += 1;
        }
        counts
    }

    fn pair() -> Arc<Endpoints> {
        use crate::discovery::{Endpoint as Listed, Endpoints as Discovered};
        let addresses = ["127.0.0.1:1", "127.0.0.1:2"].map(|a| a.parse().expect("address"));
        let source = Discovered::fixed(
            "svc",
            addresses.map(|a: std::net::SocketAddr| Listed::new(a)),
        );
        Endpoints::follow("svc", BreakerConfig::default(), source)
    }

    #[tokio::test]
    async fn a_new_endpoint_shares_the_load_from_its_first_call() {
        let endpoints = pair();
        let list = endpoints.snapshot();
        // The first endpoint has answered in 5 ms; the second is new, never measured.
        list[0].observe(Duration::from_millis(5), 0);
        let counts = concurrent_picks(&endpoints, 200);
        assert!(
            counts.iter().all(|&c| c >= 40),
            "a new endpoint neither takes every draw nor none: {counts:?}"
        );
    }

    #[tokio::test]
    async fn an_endpoint_that_fails_fast_does_not_attract_traffic() {
        let endpoints = pair();
        let list = endpoints.snapshot();
        let epoch = endpoints.epoch;
        list[1].observe(Duration::from_millis(1), 0);
        for _ in 0..3 {
            let picked = Picked {
                endpoint: Arc::clone(&list[0]),
                permit: None,
                start: Instant::now(),
            };
            let mut attempt = InFlight::start(picked, epoch, None, AttemptSpan::default());
            // It refused at once: a transport failure in well under a millisecond.
            attempt.failed(Verdict::Failure(Failure::Transport));
        }
        // 5 ms, then doubled twice.
        assert!(list[0].latency(0) >= Some(micros(FAILURE_FLOOR) * 4));
        let counts = concurrent_picks(&endpoints, 40);
        assert!(counts[0] < counts[1] / 4, "the failing one got {counts:?}");
    }

    #[test]
    fn an_unparsable_address_fails_the_call() {
        let uri: Uri = "/items/7".parse().expect("uri");
        assert!(absolute(&uri, &endpoint("not an authority"), Scheme::HTTP, "").is_err());
    }
}
