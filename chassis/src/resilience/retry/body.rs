//! Request bodies that can be sent again.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use tower::BoxError;

/// The request body the retry layer hands to the inner service: either a buffered copy that
/// can be replayed, or the caller's body (possibly after a buffered prefix), sent once.
#[derive(Debug)]
pub struct RetryBody<B> {
    kind: Kind<B>,
}

#[derive(Debug)]
enum Kind<B> {
    Replay {
        data: Option<Bytes>,
        trailers: Option<HeaderMap>,
    },
    Once {
        prefix: Option<Bytes>,
        body: B,
    },
}

impl<B> RetryBody<B> {
    /// A replayable body of `data` and optional trailers.
    pub(crate) fn replay(data: Bytes, trailers: Option<HeaderMap>) -> Self {
        Self {
            kind: Kind::Replay {
                data: (!data.is_empty()).then_some(data),
                trailers,
            },
        }
    }

    /// The caller's body, sent once after `prefix`.
    pub(crate) fn once(prefix: Bytes, body: B) -> Self {
        Self {
            kind: Kind::Once {
                prefix: (!prefix.is_empty()).then_some(prefix),
                body,
            },
        }
    }

    /// Whether this body can be sent again.
    pub fn is_replayable(&self) -> bool {
        matches!(self.kind, Kind::Replay { .. })
    }
}

impl<B> Body for RetryBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.kind {
            Kind::Replay { data, trailers } => Poll::Ready(
                data.take()
                    .map(Frame::data)
                    .or_else(|| trailers.take().map(Frame::trailers))
                    .map(Ok),
            ),
            Kind::Once { prefix, body } => {
                if let Some(prefix) = prefix.take() {
                    return Poll::Ready(Some(Ok(Frame::data(prefix))));
                }
                Pin::new(body).poll_frame(cx).map_err(Into::into)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Replay { data, trailers } => data.is_none() && trailers.is_none(),
            Kind::Once { prefix, body } => prefix.is_none() && body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Replay { data, .. } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Kind::Once { prefix, body } => {
                let extra = prefix.as_ref().map_or(0, |d| d.len() as u64);
                let inner = body.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(inner.lower().saturating_add(extra));
                if let Some(upper) = inner.upper() {
                    hint.set_upper(upper.saturating_add(extra));
                }
                hint
            }
        }
    }
}

/// A buffered copy of a request body, cheap to clone for each attempt.
#[derive(Debug, Clone, Default)]
pub(crate) struct Replay {
    data: Bytes,
    trailers: Option<HeaderMap>,
}

impl Replay {
    pub(crate) fn body<B>(&self) -> RetryBody<B> {
        RetryBody::replay(self.data.clone(), self.trailers.clone())
    }
}

/// Reads a body into memory up to `cap` bytes.
#[derive(Debug)]
pub(crate) struct Buffering<B> {
    body: B,
    chunks: BytesMut,
    first: Option<Bytes>,
    trailers: Option<HeaderMap>,
    cap: u64,
}

impl<B> Buffering<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    pub(crate) fn new(body: B, cap: u64) -> Self {
        Self {
            body,
            chunks: BytesMut::new(),
            first: None,
            trailers: None,
            cap,
        }
    }

    fn len(&self) -> u64 {
        self.first.as_ref().map_or(0, Bytes::len) as u64 + self.chunks.len() as u64
    }

    /// Reads the body until it ends (`true`: it fits, see [`Self::into_replay`]) or passes
    /// the cap (`false`: send it once, see [`Self::into_once`]).
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, BoxError>> {
        loop {
            if self.len() > self.cap {
                return Poll::Ready(Ok(false));
            }
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                None => return Poll::Ready(Ok(true)),
                Some(Err(err)) => return Poll::Ready(Err(err.into())),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.push(data),
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            self.trailers = Some(trailers);
                        }
                    }
                },
            }
        }
    }

    fn push(&mut self, data: Bytes) {
        if self.first.is_none() && self.chunks.is_empty() {
            self.first = Some(data);
        } else {
            if let Some(first) = self.first.take() {
                self.chunks.extend_from_slice(&first);
            }
            self.chunks.extend_from_slice(&data);
        }
    }

    fn prefix(&mut self) -> Bytes {
        self.first
            .take()
            .unwrap_or_else(|| std::mem::take(&mut self.chunks).freeze())
    }

    /// The whole body, buffered.
    pub(crate) fn into_replay(mut self) -> Replay {
        Replay {
            data: self.prefix(),
            trailers: self.trailers.take(),
        }
    }

    /// What was read and the rest of the body, to be sent once.
    pub(crate) fn into_once(mut self) -> RetryBody<B> {
        let prefix = self.prefix();
        RetryBody::once(prefix, self.body)
    }
}
