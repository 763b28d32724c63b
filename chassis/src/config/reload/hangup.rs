//! SIGHUP: the conventional "read your configuration again".

use tokio_util::sync::CancellationToken;

use super::{ReloadHandle, ReloadTrigger};

/// Triggers a reload on every SIGHUP until `stop`. Once listening, SIGHUP no longer ends
/// the process (its default action).
///
/// # Errors
///
/// When the handler cannot be installed.
#[cfg(unix)]
pub(crate) fn on_hangup(handle: ReloadHandle, stop: CancellationToken) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => return,
                received = hangups.recv() => if received.is_none() { return },
            }
            tracing::info!("SIGHUP: reloading the configuration");
            handle.trigger(ReloadTrigger::Signal);
        }
    });
    Ok(())
}

/// No SIGHUP outside Unix.
#[cfg(not(unix))]
pub(crate) fn on_hangup(_handle: ReloadHandle, _stop: CancellationToken) -> std::io::Result<()> {
    Ok(())
}
