//! `grpc.health.v1.Health` answered from the service's [`HealthRegistry`].
//!
//! The overall status (service `""`) and each registered gRPC service's are the readiness
//! probe's: `SERVING` while readiness passes (or warns), `NOT_SERVING` before start-up is
//! complete, while a readiness check fails, and from the first moment of shutdown for good
//! (the same latch `/health/ready` reads). `Check` runs the readiness checks (their timeouts
//! and caches apply); `Watch` sends the status at once and again whenever it changes,
//! looking every `server.grpc.health_watch_interval` and at once when shutdown begins, and
//! ends with `UNAVAILABLE` when draining begins, so no watch holds the server past its grace
//! period. A service name the server does not serve is `NOT_FOUND` to `Check` and
//! `SERVICE_UNKNOWN` to `Watch`, as the health protocol says.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use crate::health::{HealthRegistry, Probe};
use crate::resilience::deadline::Deadline;
use crate::shutdown::Shutdown;

/// The health service's name, `grpc.health.v1.Health`.
pub const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// The `grpc.health.v1.Health` service of one server.
#[derive(Debug, Clone)]
pub(crate) struct HealthService {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    registry: HealthRegistry,
    shutdown: Shutdown,
    /// The services whose status is asked for by name.
    services: Vec<String>,
    interval: Duration,
}

impl HealthService {
    /// The service answering for `services` (and `""`) from `registry`, not serving from the
    /// moment `shutdown` is triggered.
    pub(crate) fn new(
        registry: HealthRegistry,
        shutdown: Shutdown,
        services: Vec<String>,
        interval: Duration,
    ) -> HealthServer<Self> {
        HealthServer::new(Self {
            shared: Arc::new(Shared {
                registry,
                shutdown,
                services,
                interval,
            }),
        })
    }
}

impl Shared {
    fn knows(&self, service: &str) -> bool {
        service.is_empty() || self.services.iter().any(|known| known == service)
    }

    /// The status now: the readiness probe's, `NOT_SERVING` once shutdown began.
    async fn status(&self) -> ServingStatus {
        if self.shutdown.is_triggered() || self.registry.is_stopping() {
            return ServingStatus::NotServing;
        }
        let report = self.registry.report(Some(Probe::Readiness)).await;
        // Shutdown may have begun while the checks ran.
        if report.is_healthy() && !self.shutdown.is_triggered() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        }
    }
}

fn reply(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status as i32,
    }
}

/// The stream of a `Watch` call.
type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        if !self.shared.knows(&request.get_ref().service) {
            return Err(Status::not_found("the server does not serve this service"));
        }
        Ok(Response::new(reply(self.shared.status().await)))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let known = self.shared.knows(&request.get_ref().service);
        let watch = Watch {
            shared: Arc::clone(&self.shared),
            known,
            last: None,
            ended: false,
            // The caller's deadline (`grpc-timeout`, under the trust rules) ends the watch.
            deadline: Deadline::current(),
        };
        Ok(Response::new(Box::pin(futures_util::stream::unfold(
            watch,
            Watch::next,
        ))))
    }
}

/// One `Watch` call's state.
struct Watch {
    shared: Arc<Shared>,
    known: bool,
    last: Option<ServingStatus>,
    ended: bool,
    deadline: Option<Deadline>,
}

impl Watch {
    /// The next status to send: when it differs from the last one sent; `UNAVAILABLE` once
    /// draining begins, then the end.
    async fn next(mut self) -> Option<(Result<HealthCheckResponse, Status>, Self)> {
        if self.ended {
            return None;
        }
        loop {
            let shutdown = &self.shared.shutdown;
            if shutdown.is_draining() {
                self.ended = true;
                let ending = Status::unavailable("the server is shutting down");
                return Some((Err(ending), self));
            }
            if self.deadline.is_some_and(Deadline::is_expired) {
                self.ended = true;
                let ending = Status::deadline_exceeded("the call's deadline has passed");
                return Some((Err(ending), self));
            }
            let now = if self.known {
                self.shared.status().await
            } else {
                ServingStatus::ServiceUnknown
            };
            if self.last != Some(now) {
                self.last = Some(now);
                return Some((Ok(reply(now)), self));
            }
            let triggered = shutdown.is_triggered();
            let next_look = tokio::time::Instant::now() + self.shared.interval;
            let wake = self
                .deadline
                .map_or(next_look, |deadline| next_look.min(deadline.instant()));
            tokio::select! {
                biased;
                () = shutdown.draining() => {}
                () = shutdown.triggered(), if !triggered => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }
}
