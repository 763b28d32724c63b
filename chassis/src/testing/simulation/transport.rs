//! The simulated network under the chassis' transport seams: turmoil's listener and streams
//! as a server's [`Accept`] and [`Connection`], and a client connector over turmoil's
//! streams for the client's connection pool.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection as ClientConnection};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::server::{Accept, Connection};

impl Accept for turmoil::net::TcpListener {
    type Connection = turmoil::net::TcpStream;

    fn accept(
        &self,
    ) -> impl Future<Output = std::io::Result<(turmoil::net::TcpStream, SocketAddr)>> + Send {
        turmoil::net::TcpListener::accept(self)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        turmoil::net::TcpListener::local_addr(self)
    }
}

/// A simulated connection has no socket options: it is delivered as the simulator decides.
impl Connection for turmoil::net::TcpStream {}

/// Opens a simulated TCP connection to the `host:port` of a URI, bounded like a real
/// connect (a partition drops the handshake, as a real one does, so the bound is what ends
/// the wait).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Connector {
    pub(crate) timeout: Duration,
}

/// A simulated connection handed to the client's pool.
#[derive(Debug)]
pub(crate) struct Stream(turmoil::net::TcpStream);

impl tower::Service<Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<TokioIo<Stream>>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let timeout = self.timeout;
        Box::pin(async move {
            let authority = uri.authority().ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "no host in the URI")
            })?;
            let port = authority.port_u16().unwrap_or(80);
            let host = authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            let connect = turmoil::net::TcpStream::connect((host.to_owned(), port));
            match tokio::time::timeout(timeout, connect).await {
                Ok(stream) => Ok(TokioIo::new(Stream(stream?))),
                Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
            }
        })
    }
}

impl ClientConnection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
