//! The admin token: `/admin` endpoints answer only `Authorization: Bearer <token>`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use subtle::ConstantTimeEq;

use super::Problem;
use crate::config::Secret;

/// The challenge of a request without a token (RFC 6750).
const CHALLENGE: &str = r#"Bearer realm="admin""#;
/// The challenge of a request with a wrong or malformed token.
const CHALLENGE_INVALID: &str = r#"Bearer realm="admin", error="invalid_token""#;

/// Puts `routes` behind the admin token: a request without `Authorization: Bearer <token>`,
/// or with another token, is answered `401` with `WWW-Authenticate` and reaches no handler.
///
/// The comparison takes the same time whatever the token sent has in common with the right
/// one, and nothing in the answer or the log hints at it.
///
/// ```
/// use axum::{Router, routing::put};
/// use chassis::config::Secret;
/// use chassis::server::require_admin_token;
///
/// let admin: Router = require_admin_token(
///     Router::new().route("/admin/drain", put(|| async { "draining" })),
///     Secret::new("a-long-random-admin-token".to_owned()),
/// );
/// # let _ = admin;
/// ```
pub fn require_admin_token(routes: Router, token: Secret<String>) -> Router {
    routes.route_layer(middleware::from_fn_with_state(Arc::new(token), check))
}

async fn check(State(token): State<Arc<Secret<String>>>, request: Request, next: Next) -> Response {
    match presented(request.headers()) {
        Some(given) if matches(given, token.expose().as_bytes()) => next.run(request).await,
        given => {
            metrics::counter!("chassis_admin_unauthorized_total").increment(1);
            if let Some(refused) = REFUSALS.first_this_second() {
                tracing::warn!(
                    path = request.uri().path(),
                    token_sent = given.is_some(),
                    refused_since_last_warning = refused,
                    "admin request refused: missing or wrong admin token"
                );
            }
            refuse(given.is_some())
        }
    }
}

/// The start of the refusals' clock: monotonic seconds (from the first refusal, counted from
/// 1), as a wall clock stepped back would silence the warnings for as long.
static REFUSALS_START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Refusals are logged at most once a second (the counter counts each): a flood of
/// unauthenticated requests must not crowd the log queue out.
static REFUSALS: Refusals = Refusals {
    second: AtomicU64::new(0),
    since: AtomicU64::new(0),
};

struct Refusals {
    /// The second (monotonic, from 1) of the last warning.
    second: AtomicU64,
    /// Refusals since then.
    since: AtomicU64,
}

impl Refusals {
    /// Counts a refusal; the refusals since the last warning when this one should warn.
    fn first_this_second(&self) -> Option<u64> {
        let since = self.since.fetch_add(1, Ordering::Relaxed) + 1;
        let now = REFUSALS_START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs()
            + 1;
        let last = self.second.load(Ordering::Relaxed);
        (now > last
            && self
                .second
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok())
        .then(|| {
            self.since.fetch_sub(since, Ordering::Relaxed);
            since
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn presented(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, token) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| token.trim_ascii())
}

/// Constant-time equality (the length of the right token is the only thing it may reveal).
fn matches(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && bool::from(given.ct_eq(expected))
}

fn refuse(token_sent: bool) -> Response {
    let mut response = Problem::new(StatusCode::UNAUTHORIZED)
        .detail("this endpoint needs the admin token: Authorization: Bearer <token>")
        .into_response();
    let challenge = if token_sent {
        CHALLENGE_INVALID
    } else {
        CHALLENGE
    };
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    const TOKEN: &str = "0123456789abcdef-token";

    async fn status(authorization: Option<&str>) -> (StatusCode, Option<String>) {
        let app = require_admin_token(
            Router::new().route("/admin/x", get(|| async { "secret state" })),
            Secret::new(TOKEN.to_owned()),
        );
        let mut request = http::Request::get("/admin/x");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let response = app
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let challenge = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().expect("ascii").to_owned());
        (response.status(), challenge)
    }

    #[tokio::test]
    async fn only_the_right_bearer_token_passes() {
        assert_eq!(
            status(Some(&format!("Bearer {TOKEN}"))).await.0,
            StatusCode::OK
        );
        assert_eq!(
            status(Some(&format!("bearer {TOKEN}"))).await.0,
            StatusCode::OK
        );
        let (missing, challenge) = status(None).await;
        assert_eq!(missing, StatusCode::UNAUTHORIZED);
        assert_eq!(challenge.as_deref(), Some(CHALLENGE));
        for wrong in [
            "Bearer wrong",
            "Bearer 0123456789abcdef-tokeN",
            "Bearer 0123456789abcdef-token-and-more",
            "Basic MDEyMzQ1Njc4OWFiY2RlZi10b2tlbg==",
            "Bearer",
            "",
        ] {
            let (status, challenge) = status(Some(wrong)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong:?}");
            assert!(challenge.is_some(), "{wrong:?}");
        }
    }

    #[test]
    fn refusals_warn_at_most_once_a_second_and_count_the_rest() {
        let refusals = Refusals {
            second: AtomicU64::new(0),
            since: AtomicU64::new(0),
        };
        let started = std::time::Instant::now();
        assert_eq!(refusals.first_this_second(), Some(1));
        let mut warned = Vec::new();
        for _ in 0..10_000 {
            warned.extend(refusals.first_this_second());
        }
        // One more warning per second boundary crossed, at most.
        let seconds = started.elapsed().as_secs() + 1;
        assert!(warned.len() as u64 <= seconds, "{warned:?}");
        let counted: u64 = warned.iter().sum::<u64>() + refusals.since.load(Ordering::Relaxed);
        assert_eq!(counted, 10_000, "every refusal counted once");
    }
}
