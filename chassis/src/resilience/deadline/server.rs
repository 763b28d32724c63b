//! The server side: read the inbound header, set the request's deadline.

use std::{
    task::{Context, Poll},
    time::Duration,
};

use futures_util::future::Either;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

use super::{Deadline, HEADER, parse_header};

/// Reads `x-request-timeout-ms` on inbound requests and sets the [`Deadline`] (request
/// extensions and [`Deadline::current`] for the handler). Requests without a valid header
/// get no deadline unless [`DeadlineLayer::default_timeout`] is set.
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct DeadlineLayer {
    max: Option<Duration>,
    default: Option<Duration>,
}

impl DeadlineLayer {
    /// A layer that trusts the caller's header as is.
    pub const fn new() -> Self {
        Self {
            max: None,
            default: None,
        }
    }

    /// Caps the caller's budget: a header asking for more than `max` gets `max`.
    pub const fn max(mut self, max: Duration) -> Self {
        self.max = Some(max);
        self
    }

    /// The budget of requests that carry no (valid) header; none by default.
    pub const fn default_timeout(mut self, timeout: Duration) -> Self {
        self.default = Some(timeout);
        self
    }

    /// The budget for a request with these headers, after parsing, defaults and the cap.
    pub(crate) fn budget(&self, headers: &http::HeaderMap) -> Option<Duration> {
        self.budget_of(headers.get(HEADER))
    }

    /// The budget for a request whose deadline header, if any, is `header`.
    pub(crate) fn budget_of(&self, header: Option<&http::HeaderValue>) -> Option<Duration> {
        let from_header = header.and_then(|value| {
            let parsed = parse_header(value);
            if parsed.is_none() {
                tracing::debug!(header = %HEADER, ?value, "ignoring malformed deadline header");
            }
            parsed
        });
        let budget = from_header.or(self.default)?;
        Some(self.max.map_or(budget, |max| budget.min(max)))
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = SetDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SetDeadline {
            inner,
            layer: *self,
        }
    }
}

/// The service of [`DeadlineLayer`].
#[derive(Debug, Clone)]
pub struct SetDeadline<S> {
    inner: S,
    layer: DeadlineLayer,
}

impl<S, B> Service<http::Request<B>> for SetDeadline<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<TaskLocalFuture<Option<Deadline>, S::Future>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // Without a budget nothing is set: the usual request pays for no task-local scope.
        let Some(deadline) = self.layer.budget(req.headers()).map(Deadline::after) else {
            return Either::Right(self.inner.call(req));
        };
        req.extensions_mut().insert(deadline);
        let inner = &mut self.inner;
        let future = Deadline::sync_scope_exact(Some(deadline), || inner.call(req));
        Either::Left(Deadline::scope_exact(Some(deadline), future))
    }
}
