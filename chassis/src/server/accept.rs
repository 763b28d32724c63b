//! [`Accept`] and [`Connection`]: the transport seam of [`Serving`](super::Serving).
//!
//! A server accepts connections from a TCP listener in production. The seam exists so that
//! the same accept loop, watchdog and graceful stop run over a simulated network in
//! deterministic tests (feature `simulation`, see `chassis::testing::Simulation`): a
//! listener there hands out connections the simulator delivers, on its clock. The socket
//! options the server sets on real connections are the only TCP-specific part; on other
//! transports they do nothing.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

/// Where a server's connections come from.
pub trait Accept: Send + 'static {
    /// A connection it accepts.
    type Connection: Connection;

    /// The next connection and its peer's address.
    fn accept(
        &self,
    ) -> impl Future<Output = std::io::Result<(Self::Connection, SocketAddr)>> + Send;

    /// The address it listens on.
    ///
    /// # Errors
    ///
    /// When the transport cannot say (a closed socket).
    fn local_addr(&self) -> std::io::Result<SocketAddr>;
}

/// An accepted connection: bytes both ways, and what the server asks of its socket.
pub trait Connection: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Prepares a fresh connection: answers leave at once (no Nagle delay), and what stays
    /// unacknowledged by the peer for `unacknowledged` is given up by the transport.
    fn prepare(&self, unacknowledged: Duration) {
        let _ = unacknowledged;
    }

    /// Makes closing this connection a reset, which frees what the peer has not taken.
    fn reset_on_close(&self) {}
}

impl Accept for TcpListener {
    type Connection = TcpStream;

    fn accept(&self) -> impl Future<Output = std::io::Result<(TcpStream, SocketAddr)>> + Send {
        TcpListener::accept(self)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}

impl Connection for TcpStream {
    fn prepare(&self, unacknowledged: Duration) {
        let _ = self.set_nodelay(true);
        abort_unacknowledged_after(self, unacknowledged);
    }

    fn reset_on_close(&self) {
        // Best effort: the socket closes either way.
        let _ = self.set_zero_linger();
    }
}

/// Has the kernel abort `stream` once what it sends stays unacknowledged, or the peer's
/// receive window shut, for `timeout` (`TCP_USER_TIMEOUT`; zero-window probes count since
/// Linux 6.5). It ends what the watchdog cannot see: answers that fit in the socket's send
/// buffer while the peer reads nothing, and closed sockets' unsent leftovers, which would
/// otherwise wait in `FIN-WAIT-1` for minutes.
fn abort_unacknowledged_after(stream: &TcpStream, timeout: Duration) {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "fuchsia"))]
    if let Err(error) = socket2::SockRef::from(stream).set_tcp_user_timeout(Some(timeout)) {
        tracing::debug!(%error, "setting TCP_USER_TIMEOUT failed");
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "fuchsia")))]
    let _ = (stream, timeout);
}
