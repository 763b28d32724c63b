//! Power-of-two-choices balancing over a live endpoint set, with a circuit breaker per
//! endpoint (outlier ejection).
//!
//! Each call draws two endpoints at random and takes the one with the lower load estimate,
//! `(in flight + 1) x peak-EWMA latency`; an endpoint whose breaker is open is skipped, and a
//! half-open one gets its trial calls. Ejection never empties the set: when every endpoint's
//! breaker is open (a single instance, or a whole service down), calls go to the best
//! candidate anyway and the client's own breaker decides, as Envoy's panic threshold does.
//! The endpoint set is replaced when discovery publishes a new one; endpoints that stay keep
//! their breaker and latency history.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use http::uri::{Authority, Parts, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use tower::{BoxError, Service};

use super::error::NoEndpoint;
use crate::discovery::{EndpointSet, Endpoints as Discovered};
use crate::resilience::breaker::{
    BreakerConfig, CircuitBreaker, Classify, HttpClassifier, Outcome, OwnedPermit,
};
use crate::resilience::retry::RetryBody;

/// The request body the balancer sends (replayable by the retry layer).
pub(crate) type OutBody = RetryBody<Body>;

/// One endpoint and what the balancer knows of it.
#[derive(Debug)]
pub(crate) struct Endpoint {
    authority: String,
    /// `authority` parsed once, `None` if it does not parse (each call then reports why).
    parsed: Option<Authority>,
    in_flight: AtomicUsize,
    /// Peak-EWMA of the response time, in microseconds.
    latency_micros: AtomicU64,
    breaker: CircuitBreaker,
}

impl Endpoint {
    fn load(&self) -> u64 {
        let in_flight = self.in_flight.load(Ordering::Relaxed) as u64;
        (in_flight + 1) * self.latency_micros.load(Ordering::Relaxed).max(1)
    }

    fn observe(&self, elapsed: Duration) {
        let sample = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let old = self.latency_micros.load(Ordering::Relaxed);
        // Peak-sensitive: a slow response counts at once, recovery decays by 1/8 per call.
        let new = if sample > old {
            sample
        } else {
            old - (old - sample) / 8
        };
        self.latency_micros.store(new, Ordering::Relaxed);
    }

    /// The endpoint's address, `host:port`.
    pub(crate) fn authority(&self) -> &str {
        &self.authority
    }
}

/// The shared endpoint set of one client.
#[derive(Debug)]
pub(crate) struct Endpoints {
    service: String,
    breaker: BreakerConfig,
    current: RwLock<Arc<[Arc<Endpoint>]>>,
    /// Keeps discovery's watch of the service alive as long as the client lives.
    _source: Discovered,
}

impl Endpoints {
    /// Follows the live set `source`, replacing the endpoints whenever it changes.
    pub(crate) fn follow(service: &str, breaker: BreakerConfig, source: Discovered) -> Arc<Self> {
        let mut sets = source.watch();
        let endpoints = Arc::new(Self {
            service: service.to_owned(),
            breaker,
            current: RwLock::new(Arc::from(Vec::new())),
            _source: source,
        });
        endpoints.replace(&addresses(&sets.borrow_and_update()));
        let weak = Arc::downgrade(&endpoints);
        tokio::spawn(async move {
            while sets.changed().await.is_ok() {
                let Some(endpoints) = weak.upgrade() else {
                    break;
                };
                endpoints.replace(&addresses(&sets.borrow_and_update()));
            }
        });
        endpoints
    }

    fn replace(&self, addresses: &[String]) {
        let old = self.snapshot();
        let next: Vec<Arc<Endpoint>> = addresses
            .iter()
            .filter_map(|authority| {
                if let Some(kept) = old.iter().find(|e| &e.authority == authority) {
                    return Some(Arc::clone(kept));
                }
                let name = format!("{}@{authority}", self.service);
                match CircuitBreaker::new(name, &self.breaker) {
                    Ok(breaker) => Some(Arc::new(Endpoint {
                        authority: authority.clone(),
                        parsed: authority.parse().ok(),
                        in_flight: AtomicUsize::new(0),
                        latency_micros: AtomicU64::new(0),
                        breaker,
                    })),
                    Err(error) => {
                        tracing::error!(%error, "invalid breaker configuration");
                        None
                    }
                }
            })
            .collect();
        tracing::debug!(service = %self.service, endpoints = ?addresses, "endpoint set updated");
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::from(next);
    }

    /// The endpoints now.
    pub(crate) fn snapshot(&self) -> Arc<[Arc<Endpoint>]> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Picks an endpoint whose breaker admits a call, or the best one without a permit when
    /// every breaker is open.
    fn pick(&self) -> Result<(Arc<Endpoint>, Option<OwnedPermit>), BoxError> {
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
        let (first, second) = if list[a].load() <= list[b].load() {
            (a, b)
        } else {
            (b, a)
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

/// The innermost service: picks an endpoint, sends the request over a pooled connection.
#[derive(Debug, Clone)]
pub(crate) struct Balancer {
    endpoints: Arc<Endpoints>,
    /// Behind an `Arc`: the retry layer clones the whole stack for every call, and
    /// hyper-util's `Client` is a large value holding several `Arc`s of its own.
    http: Arc<Client<HttpConnector, OutBody>>,
}

impl Balancer {
    pub(crate) fn new(endpoints: Arc<Endpoints>, http: Client<HttpConnector, OutBody>) -> Self {
        Self {
            endpoints,
            http: Arc::new(http),
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
        let (endpoint, permit) = match self.endpoints.pick() {
            Ok(picked) => picked,
            Err(error) => return Box::pin(std::future::ready(Err(error))),
        };
        let uri = match absolute(request.uri(), &endpoint) {
            Ok(uri) => uri,
            Err(error) => return Box::pin(std::future::ready(Err(error))),
        };
        *request.uri_mut() = uri;
        let mut attempt = InFlight::start(endpoint, permit);
        // The client's future holds what it needs; no clone of the client here.
        let response = self.http.request(request);
        Box::pin(async move {
            let result = response.await;
            attempt.finish(HttpClassifier.classify(result.as_ref()));
            result
                .map(|response| response.map(Body::new))
                .map_err(BoxError::from)
        })
    }
}

/// One attempt on an endpoint: counted in flight until it ends, however it ends. An attempt
/// dropped before its response (a timeout, a spent deadline) counts as a failure of the
/// endpoint, with the time it took, so an endpoint that hangs is ejected too.
struct InFlight {
    endpoint: Arc<Endpoint>,
    permit: Option<OwnedPermit>,
    start: Instant,
}

impl InFlight {
    fn start(endpoint: Arc<Endpoint>, permit: Option<OwnedPermit>) -> Self {
        endpoint.in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            endpoint,
            permit,
            start: Instant::now(),
        }
    }

    fn finish(&mut self, outcome: Outcome) {
        let elapsed = self.start.elapsed();
        self.endpoint.observe(elapsed);
        if let Some(permit) = self.permit.take() {
            permit.record_with_duration(outcome, elapsed);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.endpoint.in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.permit.is_some() {
            self.finish(Outcome::Failure);
        }
    }
}

fn addresses(set: &EndpointSet) -> Vec<String> {
    set.iter()
        .map(|endpoint| endpoint.address.to_string())
        .collect()
}

fn absolute(uri: &Uri, endpoint: &Endpoint) -> Result<Uri, BoxError> {
    let authority = match &endpoint.parsed {
        Some(parsed) => parsed.clone(),
        None => endpoint.authority.parse::<Authority>()?,
    };
    let mut parts = Parts::default();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(authority);
    parts.path_and_query = Some(
        uri.path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")),
    );
    Ok(Uri::from_parts(parts)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(authority: &str) -> Endpoint {
        Endpoint {
            authority: authority.to_owned(),
            parsed: authority.parse().ok(),
            in_flight: AtomicUsize::new(0),
            latency_micros: AtomicU64::new(0),
            breaker: CircuitBreaker::new("test", &BreakerConfig::default()).expect("breaker"),
        }
    }

    #[test]
    fn the_endpoint_replaces_the_authority_and_keeps_path_and_query() {
        let uri: Uri = "/items/7?fields=name".parse().expect("uri");
        let made = absolute(&uri, &endpoint("10.0.0.5:8081")).expect("absolute");
        assert_eq!(made, "http://10.0.0.5:8081/items/7?fields=name");
        let bare: Uri = "http://elsewhere:1".parse().expect("uri");
        let rooted = absolute(&bare, &endpoint("10.0.0.5:8081")).expect("absolute");
        assert_eq!(rooted, "http://10.0.0.5:8081/");
    }

    #[test]
    fn an_unparsable_address_fails_the_call() {
        let uri: Uri = "/items/7".parse().expect("uri");
        assert!(absolute(&uri, &endpoint("not an authority")).is_err());
    }
}
