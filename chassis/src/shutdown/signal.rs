//! Process signals that begin shutdown, and the second one that ends the process at once.

use std::io;

/// Exit status after a second signal: 128 + SIGINT, what shells report for Ctrl-C.
pub(crate) const SECOND_SIGNAL_EXIT: i32 = 130;

/// The signal that asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignalKind {
    /// SIGTERM, as sent by Kubernetes and most process managers.
    Terminate,
    /// SIGINT, as sent by Ctrl-C.
    Interrupt,
}

/// Waits for SIGTERM or SIGINT (Ctrl-C elsewhere than Unix).
///
/// It listens from its first poll until it returns: a signal arriving between two calls is
/// lost. A process that must see every signal keeps one [`Signals`] instead.
///
/// # Errors
///
/// Fails when the signal handlers cannot be installed.
pub async fn wait_for_signal() -> io::Result<SignalKind> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind as Kind, signal};
        let mut term = signal(Kind::terminate())?;
        let mut int = signal(Kind::interrupt())?;
        tokio::select! {
            _ = term.recv() => Ok(SignalKind::Terminate),
            _ = int.recv() => Ok(SignalKind::Interrupt),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await?;
        Ok(SignalKind::Interrupt)
    }
}

/// SIGTERM and SIGINT, listened to from [`listen`](Self::listen) until the value is dropped:
/// the first begins shutdown, any after it ends the process at once with status 130.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use chassis::shutdown::Signals;
///
/// let mut signals = Signals::listen()?; // first, before anything that takes time
/// // ... start serving ...
/// if let Some(signal) = signals.recv().await {
///     println!("{signal:?}: draining; a second signal exits at once");
/// }
/// # Ok(()) }
/// ```
///
/// Why not a tokio signal stream alone: tokio records a signal as a flag that its driver
/// turns into a wake-up, so two signals that arrive close together are seen as one, and a
/// stream created after the first signal misses what came before it. Here the second signal
/// is counted in the signal handler itself: it ends the process (`_exit(130)`: no flush, no
/// destructor) even when the runtime is busy or stuck. Only the kernel can still merge two
/// signals: a SIGTERM sent while the previous one is still pending (not yet delivered to
/// the process) is dropped, as for any process.
///
/// [`service::run`](crate::service::run) keeps one from its first line to its last.
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    unix: unix::Listening,
}

impl Signals {
    /// Starts listening: from now on SIGTERM and SIGINT no longer end the process at once;
    /// the first is reported by [`recv`](Self::recv), and any later one exits with 130.
    ///
    /// # Errors
    ///
    /// Fails when the signal handlers cannot be installed (outside a tokio runtime with
    /// signals enabled, for one).
    pub fn listen() -> io::Result<Self> {
        Ok(Self {
            #[cfg(unix)]
            unix: unix::Listening::new()?,
        })
    }

    /// Waits for the next signal; `None` once the runtime can no longer deliver any.
    ///
    /// A signal that arrived since `listen` and was not yet received is returned at once.
    /// Several that arrived together may be returned as one; the process has exited at the
    /// second anyway.
    pub async fn recv(&mut self) -> Option<SignalKind> {
        #[cfg(unix)]
        {
            self.unix.recv().await
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c()
                .await
                .ok()
                .map(|()| SignalKind::Interrupt)
        }
    }

    /// From now on the next SIGTERM or SIGINT exits at once with 130, as after a first
    /// signal: for a shutdown begun otherwise (a [`Shutdown::trigger`](super::Shutdown::trigger)
    /// in code), so that a signal during it is a second one.
    pub fn arm(&self) {
        #[cfg(unix)]
        self.unix.arm();
    }
}

#[cfg(unix)]
mod unix {
    use std::io;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use signal_hook::SigId;
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    use tokio::signal::unix::{Signal, SignalKind as Kind, signal};

    use super::{SECOND_SIGNAL_EXIT, SignalKind};

    /// The handler-level actions and the tokio streams of one [`Signals`](super::Signals).
    #[derive(Debug)]
    pub(super) struct Listening {
        term: Signal,
        int: Signal,
        /// Set by the first signal (in the handler) or by `arm`: the next one exits.
        armed: Arc<AtomicBool>,
        actions: Vec<SigId>,
    }

    impl Listening {
        pub(super) fn new() -> io::Result<Self> {
            // The streams first: from here on the default action (terminate) is replaced.
            let term = signal(Kind::terminate())?;
            let int = signal(Kind::interrupt())?;
            let armed = Arc::new(AtomicBool::new(false));
            let mut listening = Self {
                term,
                int,
                armed,
                actions: Vec::with_capacity(4),
            };
            for sig in [SIGTERM, SIGINT] {
                // In this order: exit if armed, then arm. The first signal only arms.
                let exit =
                    flag::register_conditional_shutdown(sig, SECOND_SIGNAL_EXIT, listening.flag())?;
                listening.actions.push(exit);
                listening
                    .actions
                    .push(flag::register(sig, listening.flag())?);
            }
            Ok(listening)
        }

        fn flag(&self) -> Arc<AtomicBool> {
            Arc::clone(&self.armed)
        }

        pub(super) async fn recv(&mut self) -> Option<SignalKind> {
            tokio::select! {
                received = self.term.recv() => received.map(|()| SignalKind::Terminate),
                received = self.int.recv() => received.map(|()| SignalKind::Interrupt),
            }
        }

        pub(super) fn arm(&self) {
            self.armed.store(true, Ordering::SeqCst);
        }
    }

    impl Drop for Listening {
        fn drop(&mut self) {
            for action in self.actions.drain(..) {
                signal_hook::low_level::unregister(action);
            }
        }
    }
}
