//! The HTTP face of the registry: `GET /health`, `/health/live`, `/health/ready`,
//! `/health/startup`.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};

use super::check::Probe;
use super::registry::HealthRegistry;
use super::report::{CONTENT_TYPE, HealthReport};

/// A router serving the probes of `registry`:
///
/// | path | checks |
/// |---|---|
/// | `GET /health` | all checks |
/// | `GET /health/live` | liveness |
/// | `GET /health/ready` | readiness |
/// | `GET /health/startup` | startup |
///
/// Each answers `application/health+json` with `Cache-Control: no-store`: 200 for `pass` and
/// `warn`, 503 for `fail`. Merge or nest it into the router of the port it belongs on.
pub fn routes(registry: HealthRegistry) -> Router {
    Router::new()
        .route("/health", get(all))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/health/startup", get(startup))
        .with_state(registry)
}

async fn all(State(registry): State<HealthRegistry>) -> HealthReport {
    registry.report(None).await
}

async fn live(State(registry): State<HealthRegistry>) -> HealthReport {
    registry.report(Some(Probe::Liveness)).await
}

async fn ready(State(registry): State<HealthRegistry>) -> HealthReport {
    registry.report(Some(Probe::Readiness)).await
}

async fn startup(State(registry): State<HealthRegistry>) -> HealthReport {
    registry.report(Some(Probe::Startup)).await
}

/// The report as a response: `application/health+json`, 200 or 503, never cached.
impl IntoResponse for HealthReport {
    fn into_response(self) -> Response {
        let status = if self.is_healthy() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let mut response = Response::new(Body::from(self.to_json()));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
