//! [`RpcServerLayer`]: measures each call a gRPC service serves.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tokio::time::Instant;

use axum::body::Body;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tonic::Code;
use tower::{Layer, Service};

use super::body::{End, Finish, RpcBody};
use super::{RpcSeries, Side};
use crate::grpc::span::SpanHandoff;
use crate::grpc::status_in;
use crate::telemetry::http::abandon::dropping_expired;

/// Measures the calls of one gRPC service into `rpc_server_call_duration_seconds`.
#[derive(Debug, Clone)]
pub(crate) struct RpcServerLayer {
    series: Arc<RpcSeries>,
}

impl RpcServerLayer {
    pub(crate) fn new(_service: &'static str) -> Self {
        Self {
            series: RpcSeries::new(Side::Server),
        }
    }
}

impl<S> Layer<S> for RpcServerLayer {
    type Service = RpcServer<S>;

    fn layer(&self, inner: S) -> RpcServer<S> {
        RpcServer {
            inner,
            series: Arc::clone(&self.series),
        }
    }
}

/// The service of [`RpcServerLayer`].
#[derive(Debug, Clone)]
pub(crate) struct RpcServer<S> {
    inner: S,
    series: Arc<RpcSeries>,
}

impl<S, B, ResB> Service<Request<B>> for RpcServer<S>
where
    S: Service<Request<B>, Response = Response<ResB>, Error = Infallible>,
    ResB: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResB::Error: Into<tower::BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = RpcServerFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let path = request.uri().path();
        let call = Measured {
            series: Arc::clone(&self.series),
            span: SpanHandoff::new(path),
            path: path.into(),
            start: Instant::now(),
        };
        RpcServerFuture {
            inner: self.inner.call(request),
            call: Some(call),
        }
    }
}

/// A call being measured.
struct Measured {
    series: Arc<RpcSeries>,
    /// The SERVER span's handoff, when traces are exported.
    span: Option<SpanHandoff>,
    path: Box<str>,
    start: Instant,
}

impl Finish for Measured {
    fn finish(self, end: End) {
        let code = match end {
            End::Status(code) => code,
            End::Failed | End::Dropped => Code::Cancelled,
        };
        let seconds = self.start.elapsed().as_secs_f64();
        self.series.record(&self.path, code, seconds);
        if let Some(span) = &self.span {
            span.finish(code as i32);
        }
    }
}

pin_project! {
    /// The future of [`RpcServer`].
    pub(crate) struct RpcServerFuture<F> {
        #[pin]
        inner: F,
        call: Option<Measured>,
    }

    impl<F> PinnedDrop for RpcServerFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            // Cut by the server's timeout: answered `DEADLINE_EXCEEDED`. Dropped otherwise,
            // the caller went away before an answer, and nothing is recorded (as for HTTP).
            if let Some(call) = this.project().call.take()
                && dropping_expired()
            {
                call.finish(End::Status(Code::DeadlineExceeded));
            }
        }
    }
}

impl<F, ResB> Future for RpcServerFuture<F>
where
    F: Future<Output = Result<Response<ResB>, Infallible>>,
    ResB: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResB::Error: Into<tower::BoxError>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = ready!(this.inner.poll(cx));
        let Some(call) = this.call.take() else {
            return Poll::Ready(Ok(response.map(Body::new)));
        };
        let mut response = response;
        if let Some(span) = &call.span {
            response.extensions_mut().insert(span.clone());
        }
        // A trailers-only answer carries its status in the headers, and no body to watch.
        if let Some(code) = status_in(response.headers()) {
            call.finish(End::Status(code));
            return Poll::Ready(Ok(response.map(Body::new)));
        }
        Poll::Ready(Ok(response.map(|body| Body::new(RpcBody::new(body, call)))))
    }
}
