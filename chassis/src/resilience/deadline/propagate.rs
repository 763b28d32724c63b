//! The client side: write the remaining budget, fail fast when it is spent.

use std::{
    task::{Context, Poll},
    time::Duration,
};

use tower::{BoxError, Layer, Service};

use super::{Deadline, HEADER, ResponseFuture, header};

/// Below this much time left, a call is not started.
const MIN_BUDGET: Duration = Duration::from_millis(1);

/// Propagates the request's deadline on outbound HTTP calls.
///
/// The deadline is the earlier of [`Deadline::current`] and a [`Deadline`] in the request's
/// extensions. With no deadline the request passes untouched. Otherwise the layer fails fast
/// with [`DeadlineExceeded`](super::DeadlineExceeded) (without calling the inner service) when
/// less than a millisecond is left, writes `x-request-timeout-ms` with the remaining whole
/// milliseconds, records the deadline in the extensions and fails the call with
/// `DeadlineExceeded` if it outlives the deadline.
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct PropagateDeadlineLayer(());

impl PropagateDeadlineLayer {
    /// A new layer.
    pub const fn new() -> Self {
        Self(())
    }
}

impl<S> Layer<S> for PropagateDeadlineLayer {
    type Service = PropagateDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PropagateDeadline { inner }
    }
}

/// The service of [`PropagateDeadlineLayer`].
#[derive(Debug, Clone)]
pub struct PropagateDeadline<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for PropagateDeadline<S>
where
    S: Service<http::Request<B>>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let Some(deadline) = Deadline::for_request(&req) else {
            return ResponseFuture::unbounded(self.inner.call(req));
        };
        let remaining = deadline.remaining();
        if remaining < MIN_BUDGET {
            tracing::debug!("deadline spent; not calling");
            return ResponseFuture::spent();
        }
        req.headers_mut().insert(HEADER, header::format(remaining));
        req.extensions_mut().insert(deadline);
        ResponseFuture::bounded(self.inner.call(req), deadline)
    }
}
