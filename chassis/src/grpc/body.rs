//! The request body of a gRPC call: the stack's limits fail it with a gRPC status.
//!
//! The standard stack bounds every request body (`server.max_body_size`,
//! `server.body_read_timeout`). tonic reads a body error through `Status::from_error`, which
//! keeps a [`tonic::Status`] as it is and makes anything else `UNKNOWN`. So the body of a gRPC
//! call reports its limits as statuses: a message over the size limit
//! `RESOURCE_EXHAUSTED`, a message that stalls `DEADLINE_EXCEEDED`.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tonic::Status;

/// The body a gRPC service behind the standard stack reads.
#[derive(Debug)]
pub(crate) struct GrpcRequestBody {
    inner: Body,
}

impl GrpcRequestBody {
    /// `inner` (already limited by the stack) as a gRPC request body, boxed as an axum body.
    pub(crate) fn wrap(inner: Body) -> Body {
        Body::new(Self { inner })
    }
}

impl http_body::Body for GrpcRequestBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map_err(|error| status_of(&error))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The status of a request body's failure.
fn status_of(error: &axum::Error) -> Status {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(err) = current {
        if err.is::<http_body_util::LengthLimitError>() {
            crate::server::count_rejection("body_limit");
            return Status::resource_exhausted("the message is larger than the server accepts");
        }
        if err.is::<tower_http::timeout::TimeoutError>() {
            return Status::deadline_exceeded("the message stalled");
        }
        current = err.source();
    }
    tracing::debug!(%error, "gRPC request body failed");
    Status::unavailable("the request stream failed")
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt as _, Full, Limited};
    use tonic::Code;

    use super::*;

    #[tokio::test]
    async fn an_oversized_message_is_resource_exhausted() {
        let limited = Body::new(Limited::new(
            Full::new(Bytes::from_static(b"0123456789")),
            4,
        ));
        let error = GrpcRequestBody::wrap(limited)
            .collect()
            .await
            .expect_err("over the limit");
        let status = Status::from_error(error.into());
        assert_eq!(status.code(), Code::ResourceExhausted);
        let fits = Body::new(Limited::new(Full::new(Bytes::from_static(b"0123")), 4));
        assert!(GrpcRequestBody::wrap(fits).collect().await.is_ok());
    }
}
