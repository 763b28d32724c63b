//! Process signals that begin shutdown.

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
/// # Errors
///
/// Fails when the signal handlers cannot be installed.
pub async fn wait_for_signal() -> std::io::Result<SignalKind> {
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
