//! Serving connections: HTTP/1.1 and h2c through hyper-util, with a bounded, graceful stop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioTimer;
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service;

use super::accept::{Accept, Connection};
use super::watchdog::{Activity, CountedIo, Timeouts, Verdict, Watchdog, Watched};
use crate::config::ServerConfig;
use crate::telemetry::metrics::ScopedExecutor;

/// A service served per connection: each connection gets its own copy, told once, when the
/// connection opens, who the peer is. What depends on the peer (whether its hints are
/// trusted) is decided there, once per connection, and read by every request after.
pub trait ForConnection: Clone {
    /// The copy that serves a connection from `peer`.
    #[must_use]
    fn for_connection(&self, peer: SocketAddr) -> Self;
}

impl ForConnection for axum::Router {
    fn for_connection(&self, _peer: SocketAddr) -> Self {
        self.clone()
    }
}

/// How long cut connections get to notice before `stop` returns regardless.
const CUT_BOUND: Duration = Duration::from_secs(1);
/// The smallest read buffer hyper accepts.
const MIN_HEADER_BUFFER: usize = 8192;

/// A listener being served: stop it with [`Serving::stop`].
#[derive(Debug)]
pub struct Serving {
    local_addr: SocketAddr,
    draining: CancellationToken,
    cut: CancellationToken,
    tracker: TaskTracker,
    open: Arc<AtomicUsize>,
}

/// What [`Serving::stop`] had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopReport {
    /// Connections still open at the grace deadline, and therefore cut.
    pub cut_connections: usize,
}

impl Serving {
    /// Starts accepting on `listener`; each connection is served by the copy
    /// [`ForConnection::for_connection`] makes of `service`. At most
    /// `server.max_connections` are open at once: beyond it accepting pauses (new
    /// connections wait in the listen backlog) until one closes. When `draining` is
    /// cancelled the listener closes and connections finish gracefully.
    ///
    /// `listener` is a [`tokio::net::TcpListener`] but for deterministic tests, where it is
    /// a simulated one (see [`Accept`]).
    pub fn start<L, S>(
        listener: L,
        service: S,
        config: &ServerConfig,
        draining: CancellationToken,
    ) -> std::io::Result<Self>
    where
        L: Accept,
        S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
            + ForConnection
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let local_addr = listener.local_addr()?;
        let serving = Self {
            local_addr,
            draining,
            cut: CancellationToken::new(),
            tracker: TaskTracker::new(),
            open: Arc::new(AtomicUsize::new(0)),
        };
        // Connections and HTTP/2 streams run in the service scope current now, so the
        // metric handles they make carry the service's label.
        let executor = ScopedExecutor::current();
        let builder = builder(config, executor);
        let accept = AcceptLoop {
            listener,
            service,
            builder,
            executor,
            timeouts: Timeouts {
                head: config.header_read_timeout,
                idle: config.idle_timeout,
                stalled: config.send_timeout,
            },
            draining: serving.draining.clone(),
            cut: serving.cut.clone(),
            tracker: serving.tracker.clone(),
            open: Arc::clone(&serving.open),
            slots: Arc::new(Semaphore::new(
                config.max_connections.clamp(1, Semaphore::MAX_PERMITS),
            )),
        };
        serving.tracker.spawn(accept.run());
        Ok(serving)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connections currently open.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Stops accepting, lets open connections finish for up to `grace`, then cuts the rest.
    pub async fn stop(self, grace: Duration) -> StopReport {
        self.draining.cancel();
        self.tracker.close();
        let mut cut_connections = 0;
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            cut_connections = self.open.load(Ordering::Relaxed);
            self.cut.cancel();
            let _ = tokio::time::timeout(CUT_BOUND, self.tracker.wait()).await;
        }
        StopReport { cut_connections }
    }
}

/// The header count hyper enforces when none is set.
const HYPER_DEFAULT_MAX_HEADERS: usize = 100;

fn builder(config: &ServerConfig, executor: ScopedExecutor) -> auto::Builder<ScopedExecutor> {
    let mut builder = auto::Builder::new(executor);
    let mut http1 = builder.http1();
    // No header-read timeout here: the connection's `Watchdog` is the slow-client guard.
    // hyper would arm a 30 s one whenever it has a timer, so HTTP/1 gets none.
    http1
        .header_read_timeout(None)
        .max_buf_size(config.max_header_size.as_usize().max(MIN_HEADER_BUFFER));
    // Hyper's own limit is the same 100 headers, parsed into uninitialised stack slots; an
    // explicit limit makes it initialise one slot per allowed header on every request
    // (about 1,000 instructions), so it is set only when it differs.
    if config.max_headers != HYPER_DEFAULT_MAX_HEADERS {
        http1.max_headers(config.max_headers);
    }
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(config.max_header_size.bytes()).unwrap_or(u32::MAX));
    if config.http2 {
        builder
    } else {
        builder.http1_only()
    }
}

struct AcceptLoop<L, S> {
    listener: L,
    service: S,
    builder: auto::Builder<ScopedExecutor>,
    /// The service scope connections run in.
    executor: ScopedExecutor,
    timeouts: Timeouts,
    draining: CancellationToken,
    cut: CancellationToken,
    tracker: TaskTracker,
    open: Arc<AtomicUsize>,
    /// One permit per open connection, `server.max_connections` in all.
    slots: Arc<Semaphore>,
}

impl<L, S> AcceptLoop<L, S>
where
    L: Accept,
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
        + ForConnection
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    async fn run(self) {
        loop {
            let Some(slot) = slot(&self.slots, &self.draining, &self.open).await else {
                break;
            };
            let accepted = tokio::select! {
                biased;
                () = self.draining.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => self.spawn_connection(stream, peer, slot),
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        // Dropping the listener here refuses new connections from now on.
    }

    fn spawn_connection(
        &self,
        stream: L::Connection,
        peer: SocketAddr,
        slot: OwnedSemaphorePermit,
    ) {
        stream.prepare(self.timeouts.kernel_send_timeout());
        let activity = Arc::<Activity>::default();
        let service = Watched::new(
            TowerToHyperService::new(self.service.for_connection(peer)),
            Arc::clone(&activity),
        );
        let io = CountedIo::new(stream, Arc::clone(&activity));
        let mut watchdog = Watchdog::new(Arc::clone(&activity), self.timeouts);
        let builder = self.builder.clone();
        let draining = self.draining.clone();
        let cut = self.cut.clone();
        let open = Arc::clone(&self.open);
        open.fetch_add(1, Ordering::Relaxed);
        self.tracker.spawn(self.executor.wrap(async move {
            let connection = builder.serve_connection_with_upgrades(io, service);
            tokio::pin!(connection);
            // Asked to close gracefully, by a stop or by the watchdog.
            let mut closing = false;
            let mut stopping = false;
            // `None`: cut, at the grace deadline of a stop or by the watchdog.
            let result = loop {
                tokio::select! {
                    // In this order: no random start per poll, and the connection first.
                    biased;
                    result = connection.as_mut() => break Some(result),
                    () = draining.cancelled(), if !stopping => {
                        stopping = true;
                        if !closing {
                            connection.as_mut().graceful_shutdown();
                            closing = true;
                        }
                    }
                    () = cut.cancelled(), if stopping => {
                        // What a peer that stopped reading has not taken is dropped.
                        if activity.is_waiting_on_peer() {
                            activity.reset_on_close();
                        }
                        break None;
                    }
                    verdict = watchdog.verdict() => match verdict {
                        Verdict::Stalled => {
                            tracing::debug!("connection reset: the peer read nothing for too long");
                            activity.reset_on_close();
                            break None;
                        }
                        Verdict::Quiet if closing => {
                            // Asked to close and still open: no lingering either.
                            tracing::debug!("connection reset: no request for too long");
                            activity.reset_on_close();
                            break None;
                        }
                        Verdict::Quiet => {
                            connection.as_mut().graceful_shutdown();
                            closing = true;
                        }
                    },
                }
            };
            if let Some(Err(error)) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
            open.fetch_sub(1, Ordering::Relaxed);
            drop(slot);
        }));
    }
}

/// A connection slot, waiting for one while `server.max_connections` are open; `None` when a
/// stop comes first.
async fn slot(
    slots: &Arc<Semaphore>,
    draining: &CancellationToken,
    open: &AtomicUsize,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(slot) = Arc::clone(slots).try_acquire_owned() {
        return Some(slot);
    }
    metrics::counter!("chassis_server_connections_limited_total").increment(1);
    tracing::warn!(
        open = open.load(Ordering::Relaxed),
        "server.max_connections reached: accepting paused until a connection closes"
    );
    tokio::select! {
        biased;
        () = draining.cancelled() => None,
        slot = Arc::clone(slots).acquire_owned() => slot.ok(),
    }
}
