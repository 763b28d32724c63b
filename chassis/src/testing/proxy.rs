//! [`Proxy`]: a TCP proxy on loopback between a caller and one instance of a callee, which
//! applies the link's [`Fault`] on every accept and every chunk of bytes.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::fault::{Fault, FaultCell};

/// Bytes read at once in each direction.
const CHUNK: usize = 16 * 1024;
/// A slow link forwards about this many chunks a second, so its rate is smooth.
const SLOW_CHUNKS_PER_SECOND: u64 = 20;
/// The body of the proxy's answer for [`Fault::ErrorResponses`].
const UNAVAILABLE_BODY: &str = "error injected by the test link";

/// A running proxy; dropping it stops accepting (open connections run on to their end).
#[derive(Debug)]
pub(crate) struct Proxy {
    addr: SocketAddr,
    _accepting: DropGuard,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream` under `fault`. Call it
    /// inside a tokio runtime.
    pub(crate) fn start(upstream: SocketAddr, fault: Arc<FaultCell>) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        tokio::spawn(accept(listener, upstream, fault, stop.clone()));
        Ok(Self {
            addr,
            _accepting: stop.drop_guard(),
        })
    }

    /// Where callers connect.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

async fn accept(
    mut listener: TcpListener,
    upstream: SocketAddr,
    fault: Arc<FaultCell>,
    stop: CancellationToken,
) {
    loop {
        if fault.get() == Some(Fault::Refuse) {
            listener = match refuse_until_healed(listener, &fault, &stop).await {
                Some(listener) => listener,
                None => return,
            };
        }
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            () = fault.until(|fault| fault == Some(Fault::Refuse)) => continue,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((caller, _)) => {
                tokio::spawn(connection(caller, upstream, fault.clone()));
            }
            Err(error) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(%error, "test link: accepting failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Closes the listening socket while the link refuses, then listens on the same port again.
/// `None` when the proxy is stopped meanwhile, or the port cannot be had back.
async fn refuse_until_healed(
    listener: TcpListener,
    fault: &FaultCell,
    stop: &CancellationToken,
) -> Option<TcpListener> {
    let addr = listener.local_addr().ok()?;
    drop(listener);
    tokio::select! {
        () = stop.cancelled() => return None,
        () = fault.until(|fault| fault != Some(Fault::Refuse)) => {}
    }
    let relisten = || {
        let socket = tokio::net::TcpSocket::new_v4()?;
        // Connections the proxy accepted on this port may linger in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(1024)
    };
    match relisten() {
        Ok(listener) => Some(listener),
        Err(error) => {
            tracing::warn!(%error, %addr, "test link: cannot listen again after refusing");
            None
        }
    }
}

/// What to do with a connection or a chunk, by the fault in force.
enum Verdict {
    Pass,
    Close,
    Reset,
    Answer503,
}

/// Waits out a partition, then says what the fault in force means for the next step.
async fn verdict(fault: &FaultCell, request: bool) -> Verdict {
    fault.until_not_partitioned().await;
    match fault.get() {
        Some(Fault::Drop) => Verdict::Close,
        Some(Fault::Reset | Fault::Refuse) => Verdict::Reset,
        Some(Fault::ErrorResponses(rate)) if request && fastrand::f64() < rate => {
            Verdict::Answer503
        }
        _ => Verdict::Pass,
    }
}

async fn connection(mut caller: TcpStream, upstream: SocketAddr, fault: Arc<FaultCell>) {
    let _ = caller.set_nodelay(true);
    match verdict(&fault, false).await {
        Verdict::Pass | Verdict::Answer503 => {}
        Verdict::Close => return,
        Verdict::Reset => return reset(&caller),
    }
    let Ok(mut callee) = TcpStream::connect(upstream).await else {
        // The instance is gone: the nearest a proxy can come to a refused connection.
        return reset(&caller);
    };
    let _ = callee.set_nodelay(true);
    let _ = pump(&mut caller, &mut callee, &fault).await;
}

/// Forwards both ways until both sides have closed, applying the fault to each chunk.
async fn pump(caller: &mut TcpStream, callee: &mut TcpStream, fault: &FaultCell) -> io::Result<()> {
    let mut up = vec![0; CHUNK];
    let mut down = vec![0; CHUNK];
    let (mut caller_open, mut callee_open) = (true, true);
    while caller_open || callee_open {
        let limit = chunk_limit(fault.get());
        tokio::select! {
            read = caller.read(&mut up[..limit]), if caller_open => {
                let n = read?;
                if n == 0 {
                    caller_open = false;
                    callee.shutdown().await?;
                    continue;
                }
                match verdict(fault, true).await {
                    Verdict::Pass => {}
                    Verdict::Close => return Ok(()),
                    Verdict::Reset => {
                        reset(caller);
                        reset(callee);
                        return Ok(());
                    }
                    Verdict::Answer503 => {
                        caller.write_all(unavailable().as_bytes()).await?;
                        return caller.shutdown().await;
                    }
                }
                forward(&up[..n], callee, fault, false).await?;
            }
            read = callee.read(&mut down[..limit]), if callee_open => {
                let n = read?;
                if n == 0 {
                    callee_open = false;
                    caller.shutdown().await?;
                    continue;
                }
                match verdict(fault, false).await {
                    Verdict::Pass | Verdict::Answer503 => {}
                    Verdict::Close => return Ok(()),
                    Verdict::Reset => {
                        reset(caller);
                        reset(callee);
                        return Ok(());
                    }
                }
                forward(&down[..n], caller, fault, true).await?;
            }
        }
    }
    Ok(())
}

/// What the proxy answers for [`Fault::ErrorResponses`].
fn unavailable() -> String {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{UNAVAILABLE_BODY}",
        UNAVAILABLE_BODY.len()
    )
}

/// How many bytes to read at once: a twentieth of a slow link's rate, else a whole chunk.
fn chunk_limit(fault: Option<Fault>) -> usize {
    match fault {
        Some(Fault::SlowLink { bytes_per_second }) => {
            let per_chunk = (bytes_per_second / SLOW_CHUNKS_PER_SECOND).max(1);
            usize::try_from(per_chunk).unwrap_or(CHUNK).min(CHUNK)
        }
        _ => CHUNK,
    }
}

/// Writes `bytes` on, after the latency (towards the caller) or at the slow link's rate.
async fn forward(
    bytes: &[u8],
    to: &mut TcpStream,
    fault: &FaultCell,
    towards_caller: bool,
) -> io::Result<()> {
    match fault.get() {
        Some(Fault::Latency(delay)) if towards_caller => tokio::time::sleep(delay).await,
        Some(Fault::SlowLink { bytes_per_second }) => {
            #[allow(clippy::cast_precision_loss)] // a chunk's length and a rate
            let seconds = bytes.len() as f64 / bytes_per_second.max(1) as f64;
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        }
        _ => {}
    }
    to.write_all(bytes).await
}

/// Closes with an RST instead of a FIN: `SO_LINGER` 0, then the socket is dropped by the
/// caller of this function.
fn reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;

    use super::*;

    /// An upstream that echoes what it reads.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = stream.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        addr
    }

    async fn proxy() -> (Proxy, Arc<FaultCell>) {
        let fault = Arc::new(FaultCell::default());
        (Proxy::start(echo().await, fault.clone()).unwrap(), fault)
    }

    /// Sends `ping` and reads what comes back: the bytes, or the error.
    async fn ping(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
        stream.write_all(b"ping").await?;
        let mut buf = vec![0; 64];
        let n = stream.read(&mut buf).await?;
        buf.truncate(n);
        Ok(buf)
    }

    #[tokio::test]
    async fn a_healthy_link_passes_bytes_both_ways() {
        let (proxy, _) = proxy().await;
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(ping(&mut stream).await.unwrap(), b"ping");
    }

    #[tokio::test]
    async fn new_connections_see_drop_reset_refuse_and_errors() {
        let (proxy, fault) = proxy().await;
        fault.set(Some(Fault::Drop));
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        // Read first: bytes sent to a closed socket would come back as a reset.
        let mut buf = [0; 8];
        assert_eq!(stream.read(&mut buf).await.unwrap(), 0, "end of file");

        fault.set(Some(Fault::Reset));
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        let error = ping(&mut stream).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}");

        fault.set(Some(Fault::ErrorResponses(1.0)));
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        let answer = String::from_utf8(ping(&mut stream).await.unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");

        fault.set(Some(Fault::Refuse));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let error = loop {
            // The accept loop closes its socket when it sees the change; a connection
            // caught in its backlog meanwhile is reset.
            match TcpStream::connect(proxy.addr()).await {
                Err(error) if error.kind() != ErrorKind::ConnectionReset => break error,
                _ => assert!(tokio::time::Instant::now() < deadline, "still accepting"),
            }
            tokio::task::yield_now().await;
        };
        assert_eq!(error.kind(), ErrorKind::ConnectionRefused, "{error}");
        fault.set(None);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut stream = loop {
            match TcpStream::connect(proxy.addr()).await {
                Ok(stream) => break stream,
                Err(error) => assert!(tokio::time::Instant::now() < deadline, "{error}"),
            }
            tokio::task::yield_now().await;
        };
        assert_eq!(ping(&mut stream).await.unwrap(), b"ping", "listening again");
    }

    #[tokio::test]
    async fn an_open_connection_sees_a_fault_at_its_next_chunk() {
        let (proxy, fault) = proxy().await;
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(ping(&mut stream).await.unwrap(), b"ping");
        fault.set(Some(Fault::Reset));
        let error = ping(&mut stream).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}");
    }

    #[tokio::test]
    async fn a_partition_holds_bytes_until_it_heals() {
        let (proxy, fault) = proxy().await;
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(ping(&mut stream).await.unwrap(), b"ping");
        fault.set(Some(Fault::Partition));
        let held = tokio::spawn(async move { ping(&mut stream).await });
        // Nothing comes back while partitioned: the echo task makes no progress.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(!held.is_finished(), "bytes passed a partition");
        fault.set(None);
        assert_eq!(held.await.unwrap().unwrap(), b"ping");
    }
}
