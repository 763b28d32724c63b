//! [`OpsFirst`]: the operational endpoints answered before the service's own stack.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use axum::Router;
use axum::response::Response;
use futures_util::future::Either;
use http::Request;
use tower::Service;

use super::ForConnection;

/// The paths of the operational endpoints: health, metrics and info.
const OPS_PATHS: [&str; 6] = [
    "/health",
    "/health/live",
    "/health/ready",
    "/health/startup",
    "/metrics",
    "/info",
];

/// Whether `path` is one of the operational endpoints.
pub fn is_operational_path(path: &str) -> bool {
    // Most requests are told apart by their second byte.
    matches!(path.as_bytes().get(1), Some(b'h' | b'm' | b'i')) && OPS_PATHS.contains(&path)
}

/// Answers the operational endpoints (`/health...`, `/metrics`, `/info`) from `ops` and
/// everything else from `app` (the service's routes in the standard stack).
///
/// The service port uses it when there is no admin port: the probes and the scrape never
/// meet load shedding, the request timeout, fault injection, the body limit or the trust
/// boundary, so liveness answers `200` while the service sheds its own routes.
///
/// ```
/// use axum::{Router, routing::get};
/// use chassis::config::ServerConfig;
/// use chassis::server::{OpsFirst, standard_stack};
///
/// let ops = Router::new().route("/health/live", get(|| async { "ok" }));
/// let app = standard_stack(&ServerConfig::default(), Router::new());
/// let service = OpsFirst::new(ops, app);
/// # let _ = service;
/// ```
#[derive(Debug, Clone)]
pub struct OpsFirst<S> {
    ops: Router,
    app: S,
}

impl<S> OpsFirst<S> {
    /// `ops` answers the operational paths, `app` the rest.
    pub fn new(ops: Router, app: S) -> Self {
        Self { ops, app }
    }
}

impl<S: ForConnection> ForConnection for OpsFirst<S> {
    fn for_connection(&self, peer: SocketAddr) -> Self {
        Self {
            ops: self.ops.clone(),
            app: self.app.for_connection(peer),
        }
    }
}

impl<S, B> Service<Request<B>> for OpsFirst<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<tower::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<<Router as Service<Request<B>>>::Future, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready; the app's readiness only delays the app's requests.
        self.app.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if is_operational_path(request.uri().path()) {
            Either::Left(Service::<Request<B>>::call(&mut self.ops, request))
        } else {
            Either::Right(self.app.call(request))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_operational_paths() {
        for path in OPS_PATHS {
            assert!(is_operational_path(path), "{path}");
        }
        for path in [
            "/",
            "/healthz",
            "/health/",
            "/health/live/x",
            "/items",
            "/info2",
            "",
        ] {
            assert!(!is_operational_path(path), "{path}");
        }
    }
}
