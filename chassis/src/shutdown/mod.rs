//! Graceful shutdown: one handle to trigger it, await it and hook into it.
//!
//! The sequence, run by [`crate::service`](mod@crate::service) when SIGTERM or SIGINT arrives (or
//! [`Shutdown::trigger`] is called, or the service's handle is dropped):
//!
//! 1. **triggered**: readiness turns to fail, and deregistration from discovery begins;
//!    HTTP/1 answers carry `Connection: close` from now on, so callers stop reusing their
//!    kept-alive connections;
//! 2. **drain delay** (`shutdown.drain_delay`): still serving, so load balancers and
//!    callers that have not yet seen the readiness change lose nothing. Deregistration runs
//!    beside it: a slow or unreachable registry delays nothing;
//! 3. **draining**: the service port closes (new connections are refused), in-flight
//!    requests finish, idle keep-alive connections close, HTTP/2 connections get `GOAWAY`,
//!    long-lived streams see [`Shutdown::draining`] and end;
//! 4. **grace deadline** (`shutdown.grace_period`): whatever is still open is cut, with a
//!    warning naming how many connections were cut. A deregistration still running gets at
//!    most `shutdown.hook_timeout` more, then is abandoned (its lease expires);
//! 5. **hooks** registered with [`Shutdown::on_shutdown`] run in reverse order of
//!    registration, each bounded by `shutdown.hook_timeout`. The admin port
//!    (`server.admin_port`) still answers probes and scrapes, so a last scrape sees the
//!    final counters; readiness keeps answering fail. It closes after the hooks;
//! 6. the process exits 0.
//!
//! A program that builds its own server runs the same steps with [`Sequence`].
//!
//! A second signal exits at once with status 130, from the signal handler itself (see
//! [`Signals`]): however soon after the first it comes, and even when the runtime is stuck.
//!
//! ```
//! # async fn demo() {
//! let shutdown = chassis::shutdown::Shutdown::new();
//! shutdown.on_shutdown("flush cache", || async { /* write it out */ });
//!
//! let worker = shutdown.clone();
//! tokio::spawn(async move {
//!     loop {
//!         tokio::select! {
//!             () = worker.draining() => break,
//!             () = tokio::time::sleep(std::time::Duration::from_secs(1)) => { /* work */ }
//!         }
//!     }
//! });
//! # }
//! ```

mod hooks;
mod sequence;
mod signal;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

pub use hooks::HookReport;
pub(crate) use hooks::Hooks;
pub use sequence::{Sequence, ShutdownReport};
pub(crate) use signal::SECOND_SIGNAL_EXIT;
pub use signal::{SignalKind, Signals, wait_for_signal};

/// A cloneable handle on one service's shutdown.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Set with `triggered`, read per request: a load, where the token takes a lock.
    stopping: AtomicBool,
    triggered: CancellationToken,
    draining: CancellationToken,
    hooks: Hooks,
}

impl Shutdown {
    /// A handle whose shutdown has not begun.
    pub fn new() -> Self {
        Self::default()
    }

    /// Begins shutdown. Calling it again does nothing.
    pub fn trigger(&self) {
        self.inner.stopping.store(true, Ordering::Release);
        self.inner.triggered.cancel();
    }

    /// Whether shutdown has begun: one atomic load, cheap enough for every request.
    pub fn is_triggered(&self) -> bool {
        self.inner.stopping.load(Ordering::Acquire)
    }

    /// Completes when shutdown begins (readiness has turned to fail; still serving).
    pub async fn triggered(&self) {
        self.inner.triggered.cancelled().await;
    }

    /// Completes when the drain delay is over and the server stops accepting: long-lived
    /// work (streams, background loops) should finish now, before the grace deadline.
    pub async fn draining(&self) {
        self.inner.draining.cancelled().await;
    }

    /// Whether draining has begun.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.is_cancelled()
    }

    /// A token cancelled when draining begins, for APIs that take a `CancellationToken`.
    pub fn draining_token(&self) -> CancellationToken {
        self.inner.draining.child_token()
    }

    /// Registers a hook run after the service port has stopped (the admin port still
    /// serves): hooks run in reverse order of registration, each bounded by
    /// `shutdown.hook_timeout`.
    pub fn on_shutdown<F, Fut>(&self, name: impl Into<String>, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.inner.hooks.push(name.into(), hook);
    }

    pub(crate) fn start_draining(&self) {
        self.trigger();
        self.inner.draining.cancel();
    }

    pub(crate) fn hooks(&self) -> &Hooks {
        &self.inner.hooks
    }
}
