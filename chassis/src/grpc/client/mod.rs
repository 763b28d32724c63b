//! [`GrpcChannel`]: a resilient channel for tonic-generated clients.

mod balance;
mod error;
mod idempotent;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

use axum::body::Body;
use http::{Request, Response, StatusCode};
use tonic::{Code, Status};
use tower::ServiceExt;

use self::balance::GrpcBalancer;
use self::error::status_of;
use super::metrics::{End, Finish, RpcBody, RpcSeries, Side};
use super::{GRPC_TIMEOUT, parse_grpc_timeout, status_in};
use crate::client::balance::Endpoints;
use crate::client::outcomes::OutcomeCounters;
use crate::client::pool::Pool;
use crate::client::{ClientBuildError, ClientError, GRPC_PREFIX, Judge, LiveStack};
use crate::discovery::Endpoints as Discovered;
use crate::resilience::blame::{Cause, Failure, Verdict};
use crate::resilience::breaker::{CircuitBreaker, OwnedPermit, State};
use crate::resilience::config::ClientResilienceConfig;
use crate::resilience::deadline::Deadline;
use crate::resilience::retry::{Attempt, GrpcClassifier, RetryClassifier, Retryable};
use crate::resilience::timeout::CallTimeout;

/// A gRPC channel to one service, over discovery, with the HTTP client's resilience; give
/// it to any tonic-generated client. Cheap to clone.
///
/// ```no_run
/// # async fn demo(ctx: chassis::service::Context<()>) -> Result<(), Box<dyn std::error::Error>> {
/// use tonic_health::pb::HealthCheckRequest;
/// use tonic_health::pb::health_client::HealthClient;
///
/// let channel = ctx.grpc("catalog")?; // clients.catalog configures it
/// let mut health = HealthClient::new(channel);
/// let reply = health.check(HealthCheckRequest { service: String::new() }).await?;
/// # let _ = reply; Ok(()) }
/// ```
///
/// A call goes, from the outside in, through: the channel's circuit breaker
/// (`clients.<name>.breaker`, judging the whole call by its final status); the overall
/// timeout (`timeout`, or the call's own `grpc-timeout` as tonic's `Request::set_timeout`
/// writes it); retries (`retry.*`) of methods marked idempotent only; the per-attempt
/// timeout; deadline propagation (`grpc-timeout` and `x-request-timeout-ms` from what is left
/// of the caller's deadline and the timeouts); the bulkhead; and power-of-two-choices
/// balancing over the live endpoint set with a breaker per endpoint (outlier ejection), on
/// one HTTP/2 connection per endpoint. Each attempt carries the trace context with a span id
/// of its own.
///
/// Blame follows the gRPC status, read from the headers of a trailers-only answer or from the
/// trailers at the end of the stream ([`Verdict::of_grpc_status`]): `UNAVAILABLE`,
/// `INTERNAL`, `UNKNOWN` and `DATA_LOSS` count against the breakers; `DEADLINE_EXCEEDED`
/// does when the client's own timeout set the deadline, not when the caller's deadline did;
/// `INVALID_ARGUMENT` and the other codes of a request gone wrong never do. A trailers-only
/// `UNAVAILABLE` (or a connection refused) is retried when the method is idempotent: marked
/// so in its `.proto` (`option idempotency_level = IDEMPOTENT` or `NO_SIDE_EFFECTS`, read by
/// [`GrpcChannel::idempotent_from`]), named with [`GrpcChannel::idempotent`], or a call
/// carrying the [`Retryable`] extension. A failure the channel answers itself is a
/// [`Status`] with a generic message and the [`ClientError`] as its source.
///
/// Each call records `rpc_client_call_duration_seconds{rpc_system="grpc", rpc_service,
/// rpc_method, rpc_grpc_status_code}` to the end of its response stream.
///
/// A live change of `clients.<name>` reaches a channel made by
/// [`Context::grpc`](crate::service::Context::grpc) for its next call
/// ([`reconfigure`](Self::reconfigure)); the admin endpoints show and control it as
/// `grpc:<name>`.
#[derive(Debug, Clone)]
pub struct GrpcChannel {
    inner: Arc<Inner>,
    /// Paths (`/package.Service/Method`) that may be retried.
    idempotent: Arc<[Box<str>]>,
}

#[derive(Debug)]
struct Inner {
    name: Arc<str>,
    /// The stack, breaker and timeout in force, swapped by a reconfiguration.
    live: LiveStack<GrpcBalancer, GrpcRetries>,
    endpoints: Arc<Endpoints>,
    outcomes: Arc<OutcomeCounters>,
    series: Arc<RpcSeries>,
}

/// The retries of a gRPC channel: [`GrpcClassifier`], but a TLS failure is not retried (as
/// the HTTP client does not).
#[derive(Debug, Clone, Copy)]
struct GrpcRetries;

impl RetryClassifier for GrpcRetries {
    fn is_retryable(&self, attempt: Attempt<'_>) -> bool {
        match attempt {
            Attempt::Error(error) if crate::client::error::tls_failure(error).is_some() => false,
            _ => GrpcClassifier.is_retryable(attempt),
        }
    }
}

impl GrpcChannel {
    /// A channel to `name` with `config` (`clients.<name>`, always over HTTP/2), balancing
    /// over the live endpoint set `endpoints`. Its breakers and counters are labelled
    /// `client="grpc:<name>"`, apart from an HTTP client of the same service.
    ///
    /// # Errors
    ///
    /// When the configuration is out of range, or a TLS file is missing or not what it
    /// should be.
    pub fn new(
        name: &str,
        config: &ClientResilienceConfig,
        endpoints: Discovered,
    ) -> Result<Self, ClientBuildError> {
        config.validate()?;
        let label = format!("{GRPC_PREFIX}{name}");
        let mut http2 = config.clone();
        http2.http2 = true;
        let http = Pool::new(&http2)?;
        let endpoints = Endpoints::follow(&label, config.outlier.clone(), endpoints);
        let balancer = GrpcBalancer::new(Arc::clone(&endpoints), http);
        let live = LiveStack::new(&label, config, balancer, GrpcRetries, Judge::ByCaller)?;
        Ok(Self {
            inner: Arc::new(Inner {
                name: Arc::from(name),
                live,
                endpoints,
                outcomes: Arc::new(OutcomeCounters::new(&label, "call")),
                series: RpcSeries::new(Side::Client),
            }),
            idempotent: Arc::from(Vec::new()),
        })
    }

    /// This channel, retrying the methods an encoded `FileDescriptorSet` marks
    /// `idempotency_level = IDEMPOTENT` or `NO_SIDE_EFFECTS` (the bytes a `build.rs` writes
    /// with protox, the ones given to reflection).
    ///
    /// # Errors
    ///
    /// When the bytes are not a `FileDescriptorSet`.
    pub fn idempotent_from(self, descriptor_set: &[u8]) -> Result<Self, prost::DecodeError> {
        let methods = idempotent::idempotent_methods(descriptor_set)?;
        Ok(self.idempotent(methods))
    }

    /// This channel, retrying these methods too (`/package.Service/Method`).
    #[must_use]
    pub fn idempotent<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut all: Vec<Box<str>> = self.idempotent.iter().cloned().collect();
        all.extend(methods.into_iter().map(|m| m.into().into_boxed_str()));
        self.idempotent = Arc::from(all);
        self
    }

    /// The service this channel calls.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The channel's circuit breaker (state, forced states), named `grpc:<name>`. A
    /// reconfiguration that changes its window replaces it: ask again rather than keeping it.
    pub fn breaker(&self) -> CircuitBreaker {
        self.inner.live.breaker()
    }

    /// The `clients.<name>` settings in force.
    pub fn config(&self) -> ClientResilienceConfig {
        self.inner.live.config()
    }

    /// Takes `config`'s timeouts, retries, breakers, outlier ejection and bulkhead for the
    /// calls that start from now on, while calls in flight finish as they began, exactly as
    /// [`HttpClient::reconfigure`](crate::client::HttpClient::reconfigure) does (breakers,
    /// endpoints, connections, retry budget and bulkhead keep their state unless their own
    /// settings changed). The `url`, `tls` and `http2` of `config` are not read.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use chassis::discovery::Endpoints;
    /// use chassis::grpc::GrpcChannel;
    /// use chassis::resilience::config::ClientResilienceConfig;
    ///
    /// let endpoints = Endpoints::fixed("catalog", []);
    /// let channel = GrpcChannel::new("catalog", &ClientResilienceConfig::default(), endpoints)?;
    /// let mut looser = channel.config();
    /// looser.timeout = Some(Duration::from_secs(5));
    /// channel.reconfigure(&looser)?;
    /// assert_eq!(channel.config().timeout, Some(Duration::from_secs(5)));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// When `config` is out of range; nothing changes then.
    pub fn reconfigure(&self, config: &ClientResilienceConfig) -> Result<(), ClientBuildError> {
        config.validate()?;
        self.inner.endpoints.reconfigure(&config.outlier)?;
        self.inner.live.reconfigure(config)
    }

    /// Each endpoint (`host:port`) with the state of its breaker (outlier ejection).
    pub fn endpoint_states(&self) -> Vec<(String, State)> {
        self.inner
            .endpoints
            .snapshot()
            .iter()
            .map(|e| (e.authority().to_owned(), e.breaker_state()))
            .collect()
    }

    /// Sends one call.
    async fn call(self, request: Request<tonic::body::Body>) -> Result<Response<Body>, Status> {
        let inner = &self.inner;
        let start = Instant::now();
        let path: Box<str> = request.uri().path().into();
        let mut request = request.map(Body::new);
        let own_timeout = request
            .headers()
            .get(GRPC_TIMEOUT)
            .and_then(parse_grpc_timeout);
        if let Some(timeout) = own_timeout {
            request.extensions_mut().insert(CallTimeout(timeout));
        }
        if self.idempotent.iter().any(|m| **m == *path) {
            request.extensions_mut().insert(Retryable);
        }
        // One load: the stack, breaker and timeout in force when the call starts.
        let (stack, mut end) = {
            let now = inner.live.now();
            let caller_first = caller_deadline_first(&request, own_timeout.or(now.timeout));
            let mut end = CallEnd {
                inner: Arc::clone(inner),
                path,
                start,
                caller_first,
                permit: None,
                done: false,
            };
            match now.breaker.try_acquire_owned() {
                Ok(permit) => end.permit = Some(permit),
                Err(open) => {
                    end.finish_with(Verdict::NotCharged(Cause::BreakerOpen), Code::Unavailable);
                    return Err(status_of(ClientError::new(&inner.name, Box::new(open))));
                }
            }
            (now.stack.clone(), end)
        };
        match stack.oneshot(request).await {
            Ok(response) => Ok(end.watch(response)),
            Err(error) => {
                let error = ClientError::new(&inner.name, error);
                let verdict = error.verdict();
                let status = status_of(error);
                end.permit_outcome(verdict);
                end.finish_with(verdict, status.code());
                Err(status)
            }
        }
    }
}

/// Whether the caller's deadline (inbound, or in the request) comes before the client's own
/// `timeout` would.
fn caller_deadline_first(request: &Request<Body>, timeout: Option<Duration>) -> bool {
    let Some(deadline) = Deadline::for_request(request) else {
        return false;
    };
    timeout.is_none_or(|timeout| deadline.remaining() < timeout)
}

/// The end of one call: the breaker's permit, the outcome, the duration.
struct CallEnd {
    inner: Arc<Inner>,
    path: Box<str>,
    start: Instant,
    caller_first: bool,
    permit: Option<OwnedPermit>,
    /// Whether the call's end was recorded.
    done: bool,
}

impl CallEnd {
    /// The response, judged now when its status is known, at the end of its stream otherwise.
    fn watch(mut self, response: Response<Body>) -> Response<Body> {
        if let Some(code) = status_in(response.headers()) {
            let verdict = Verdict::of_grpc_status(code as i32, self.caller_first);
            self.permit_outcome(verdict);
            self.finish_with(verdict, code);
            return response;
        }
        if response.status() != StatusCode::OK {
            let verdict = Verdict::of_status(response.status());
            self.permit_outcome(verdict);
            self.finish_with(verdict, Code::Unavailable);
            return response;
        }
        response.map(|body| Body::new(RpcBody::new(body, self)))
    }

    fn permit_outcome(&mut self, verdict: Verdict) {
        if let Some(permit) = self.permit.take() {
            match verdict {
                // Dropped unrecorded: a half-open trial slot is given back.
                Verdict::NotCharged(_) => drop(permit),
                _ => permit.record_with_duration(verdict.outcome(), self.start.elapsed()),
            }
        }
    }

    fn finish_with(&mut self, verdict: Verdict, code: Code) {
        self.done = true;
        self.inner.outcomes.record(verdict);
        self.inner
            .series
            .record(&self.path, code, self.start.elapsed().as_secs_f64());
    }
}

impl Drop for CallEnd {
    fn drop(&mut self) {
        // The caller gave up before an answer: not charged (the permit goes back unrecorded).
        if !self.done {
            self.permit = None;
            self.inner
                .outcomes
                .record(Verdict::NotCharged(Cause::Cancelled));
        }
    }
}

impl Finish for CallEnd {
    fn finish(mut self, end: End) {
        let (verdict, code) = match end {
            End::Status(code) => (
                Verdict::of_grpc_status(code as i32, self.caller_first),
                code,
            ),
            End::Failed => (Verdict::Failure(Failure::Transport), Code::Unavailable),
            End::Dropped => (Verdict::NotCharged(Cause::Cancelled), Code::Cancelled),
        };
        self.permit_outcome(verdict);
        self.finish_with(verdict, code);
    }
}

/// The channel as the `tonic::client::GrpcService` generated clients take.
impl tower::Service<Request<tonic::body::Body>> for GrpcChannel {
    type Response = Response<Body>;
    type Error = Status;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Status>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<tonic::body::Body>) -> Self::Future {
        Box::pin(self.clone().call(request))
    }
}
