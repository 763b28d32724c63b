use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use bytes::Bytes;
use http::request::Parts;
use http_body::Body;
use pin_project_lite::pin_project;
use tokio::time::{Sleep, sleep};
use tower::{BoxError, Service};

use super::{
    Decision, Outcome, RetryBody, RetryClassifier,
    body::{Buffering, Replay},
    layer::Shared,
};
use crate::resilience::deadline::Deadline;

/// How many times a request was sent before this attempt, in a retried attempt's extensions
/// (the `http.request.resend_count` of its span).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResendCount(pub u32);

/// What each attempt sends: the request head and the buffered body.
#[derive(Debug)]
pub(crate) struct Template {
    pub(crate) parts: Parts,
    pub(crate) replay: Replay,
}

impl Template {
    pub(crate) fn request<B>(&self) -> http::Request<RetryBody<B>> {
        http::Request::from_parts(self.parts.clone(), self.replay.body())
    }

    fn deadline(&self) -> Option<Deadline> {
        let in_request = self.parts.extensions.get::<Deadline>().copied();
        crate::resilience::deadline::earliest(Deadline::current(), in_request)
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Buffering,
        Called { #[pin] future: F },
        Backoff { #[pin] sleep: Sleep },
        Ready,
    }
}

pin_project! {
    /// The future of [`Retry`](super::Retry).
    pub struct ResponseFuture<S, B, C>
    where
        S: Service<http::Request<RetryBody<B>>>,
    {
        #[pin]
        state: State<S::Future>,
        service: Option<S>,
        buffering: Option<(Parts, Buffering<B>)>,
        template: Option<Template>,
        attempts: u32,
        shared: Arc<Shared<C>>,
    }
}

impl<S, B, C> ResponseFuture<S, B, C>
where
    S: Service<http::Request<RetryBody<B>>>,
{
    /// The first attempt is under way; `service` and `template` are there if it may be retried.
    pub(crate) fn called(
        future: S::Future,
        service: Option<S>,
        template: Option<Template>,
        shared: Arc<Shared<C>>,
    ) -> Self {
        Self {
            state: State::Called { future },
            service,
            buffering: None,
            template,
            attempts: 0,
            shared,
        }
    }

    /// The body is read first; `service` is ready for the first attempt.
    pub(crate) fn buffering(
        service: S,
        parts: Parts,
        body: Buffering<B>,
        shared: Arc<Shared<C>>,
    ) -> Self {
        Self {
            state: State::Buffering,
            service: Some(service),
            buffering: Some((parts, body)),
            template: None,
            attempts: 0,
            shared,
        }
    }
}

impl<S, B, C, ResB> Future for ResponseFuture<S, B, C>
where
    S: Service<http::Request<RetryBody<B>>, Response = http::Response<ResB>>,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
    C: RetryClassifier,
{
    type Output = Result<http::Response<ResB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Buffering => {
                    let (_, buffering) = this.buffering.as_mut().expect("buffering state");
                    let fits = ready!(buffering.poll_fill(cx))?;
                    let (parts, buffering) = this.buffering.take().expect("buffering state");
                    let mut service = this.service.take().expect("ready service");
                    // The service was made ready before `call`; use that readiness now.
                    let future = if fits {
                        let template = Template {
                            parts,
                            replay: buffering.into_replay(),
                        };
                        let future = service.call(template.request());
                        *this.template = Some(template);
                        *this.service = Some(service);
                        future
                    } else {
                        tracing::debug!("request body over max_replay_body; sending it once");
                        service.call(http::Request::from_parts(parts, buffering.into_once()))
                    };
                    this.state.set(State::Called { future });
                }
                StateProj::Called { future } => {
                    let result = ready!(future.poll(cx)).map_err(Into::into);
                    *this.attempts += 1;
                    let deadline = this.template.as_ref().and_then(Template::deadline);
                    let decision = this.shared.policy.decide(
                        *this.attempts,
                        this.template.is_some(),
                        &result,
                        deadline,
                        &this.shared.budget,
                    );
                    match decision {
                        Decision::Stop(outcome) => {
                            this.shared.metrics.record(outcome);
                            return Poll::Ready(result);
                        }
                        Decision::Retry(delay) => {
                            this.shared.metrics.record(Outcome::Retried);
                            tracing::debug!(attempt = *this.attempts, ?delay, "retrying");
                            drop(result);
                            if delay.is_zero() {
                                this.state.set(State::Ready);
                            } else {
                                this.state.set(State::Backoff {
                                    sleep: sleep(delay),
                                });
                            }
                        }
                    }
                }
                StateProj::Backoff { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(State::Ready);
                }
                StateProj::Ready => {
                    let service = this.service.as_mut().expect("retry keeps a service");
                    ready!(service.poll_ready(cx)).map_err(Into::into)?;
                    let template = this.template.as_ref().expect("retry keeps the request");
                    let mut request = template.request();
                    request.extensions_mut().insert(ResendCount(*this.attempts));
                    let future = service.call(request);
                    this.state.set(State::Called { future });
                }
            }
        }
    }
}

impl<S, B, C> fmt::Debug for ResponseFuture<S, B, C>
where
    S: Service<http::Request<RetryBody<B>>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("attempts", &self.attempts)
            .field("replayable", &self.template.is_some())
            .finish_non_exhaustive()
    }
}
