//! [`CountedIo`]: tells a connection's watchdog what the connection writes, and closes with
//! a reset when the watchdog asks for one.
//!
//! hyper is done with a response body (and counts its request out) once the last chunk is
//! queued, and a large answer can then take a slow reader long to receive:
//!
//! - while a write waits for the peer (its socket full), the connection is still answering
//!   and is not cut, however slowly the peer reads (as with hyper's own guard, which only
//!   timed request heads);
//! - over HTTP/2 the answer waits for the peer's flow-control window instead, with the
//!   socket free: the bytes written as the window opens are the progress that keeps it.
//!
//! Over HTTP/2 only the bytes of answers' bodies count (see [`AnswerBytes`]): the frames
//! the peer asks for, such as answers to its pings, are not progress.
//!
//! Reads are noted, but only to tell an idle connection from one whose next request head
//! has begun to come: a head trickled byte by byte must not keep a connection.
//!
//! When the watchdog finds the peer taking nothing, the socket is closed with a reset as it
//! drops, so that the kernel frees the unsent answer at once.

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::rt::TokioIo;

use super::Activity;
use super::frames::AnswerBytes;
use crate::server::accept::Connection;

/// A connection's socket that notes in the connection's [`Activity`] the bytes of answers
/// it writes, whether its last write waits for the peer and the reads that bring bytes; it
/// closes with a reset (`SO_LINGER` 0 over TCP) when the activity asks for one.
#[derive(Debug)]
pub(in crate::server) struct CountedIo<C: Connection> {
    inner: TokioIo<C>,
    activity: Arc<Activity>,
    /// Finds the bytes of answers among those written.
    answers: AnswerBytes,
}

impl<C: Connection> CountedIo<C> {
    pub(in crate::server) fn new(stream: C, activity: Arc<Activity>) -> Self {
        let inner = TokioIo::new(stream);
        Self {
            inner,
            activity,
            answers: AnswerBytes::default(),
        }
    }

    /// Notes a write of `bufs`: whether it waits, and the bytes of answers among those it
    /// wrote.
    fn note<'a>(
        &mut self,
        written: &Poll<std::io::Result<usize>>,
        bufs: impl Iterator<Item = &'a [u8]> + Clone,
    ) {
        match written {
            Poll::Pending => self.activity.write_waits(true),
            Poll::Ready(result) => {
                self.activity.write_waits(false);
                if let Ok(bytes) = result {
                    self.activity.wrote(self.answers.among(bufs, *bytes));
                }
            }
        }
    }
}

impl<C: Connection> Read for CountedIo<C> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = read {
            self.activity.received();
        }
        read
    }
}

impl<C: Connection> Write for CountedIo<C> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note(&written, std::iter::once(buf));
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note(&written, bufs.iter().map(|buf| &**buf));
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<C: Connection> Drop for CountedIo<C> {
    fn drop(&mut self) {
        if self.activity.resets_on_close() {
            self.inner.inner().reset_on_close();
        }
    }
}
