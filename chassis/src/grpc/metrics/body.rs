//! [`RpcBody`]: a gRPC response body that reports how the call ended.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use pin_project_lite::pin_project;
use tonic::Code;

use crate::grpc::status_in;

/// How a gRPC response stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// With this status (from the trailers; `INTERNAL` when they carry none).
    Status(Code),
    /// The body failed (the connection broke).
    Failed,
    /// The body was dropped before its end (the reader gave up).
    Dropped,
}

/// What to do, once, when a call ends.
pub(crate) trait Finish: Send + 'static {
    /// The call ended this way.
    fn finish(self, end: End);
}

pin_project! {
    /// A response body that calls its [`Finish`] once the stream ends, fails or is dropped.
    pub(crate) struct RpcBody<B, F: Finish> {
        #[pin]
        inner: B,
        finish: Option<F>,
    }

    impl<B, F: Finish> PinnedDrop for RpcBody<B, F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(finish) = this.project().finish.take() {
                finish.finish(End::Dropped);
            }
        }
    }
}

impl<B, F: Finish> RpcBody<B, F> {
    /// `inner`, reporting its end to `finish`.
    pub(crate) fn new(inner: B, finish: F) -> Self {
        Self {
            inner,
            finish: Some(finish),
        }
    }
}

impl<B, F: Finish> std::fmt::Debug for RpcBody<B, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcBody").finish_non_exhaustive()
    }
}

impl<B, F> http_body::Body for RpcBody<B, F>
where
    B: http_body::Body<Data = Bytes>,
    F: Finish,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        let end = match &frame {
            Some(Ok(frame)) => frame
                .trailers_ref()
                .map(|trailers| End::Status(status_in(trailers).unwrap_or(Code::Internal))),
            Some(Err(_)) => Some(End::Failed),
            None => Some(End::Status(Code::Internal)),
        };
        if let Some(end) = end
            && let Some(finish) = this.finish.take()
        {
            finish.finish(end);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
