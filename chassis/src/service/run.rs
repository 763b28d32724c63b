//! [`run`]: the whole life of a service process, for `main`.

use std::io::Write as _;
use std::process::ExitCode;

use super::{Launcher, Microservice};
use crate::shutdown::{SECOND_SIGNAL_EXIT, Signals};

/// Runs `S` until SIGTERM or SIGINT and the shutdown sequence complete.
///
/// Signals are listened to before anything else, by one [`Signals`] kept to the end, so
/// none is lost: the first begins the shutdown sequence (during start-up, it abandons the
/// start instead), and any later one, however soon, ends the process at once.
///
/// Exit status: 0 after a graceful shutdown, or when a signal came before start-up
/// finished; 1 when configuration is invalid (the report, one line per problem, goes to
/// stderr before anything is bound), start-up fails or signals cannot be listened to; 130
/// at once on a second signal, or on a signal during a shutdown begun in code.
pub async fn run<S: Microservice>() -> ExitCode {
    let mut signals = match Signals::listen() {
        Ok(signals) => signals,
        Err(error) => return failed::<S>(&format!("cannot listen for signals: {error}")),
    };
    let launched = tokio::select! {
        launched = launch::<S>() => launched,
        signal = signals.recv() => {
            // Nothing is served or registered yet: nothing to drain.
            let _ = writeln!(std::io::stderr(), "{}: {signal:?} during start-up: not starting", S::NAME);
            return ExitCode::SUCCESS;
        }
    };
    let handle = match launched {
        Ok(handle) => handle,
        Err(error) => return failed::<S>(&error.to_string()),
    };
    let shutdown = handle.shutdown_handle().clone();
    tokio::select! {
        signal = signals.recv() => {
            if let Some(kind) = signal {
                tracing::info!(signal = ?kind, "shutdown requested");
            }
        }
        () = shutdown.triggered() => {}
    }
    // The first signal armed the exit already; a shutdown begun in code arms it here.
    signals.arm();
    shutdown.trigger();
    // Where the signal handler cannot exit (not Unix), the next signal is seen here.
    tokio::spawn(async move {
        if signals.recv().await.is_some() {
            let _ = writeln!(std::io::stderr(), "second signal: exiting at once");
            std::process::exit(SECOND_SIGNAL_EXIT);
        }
    });
    let report = handle.stopped().await;
    if !report.hooks.timed_out.is_empty()
        || !report.hooks.panicked.is_empty()
        || !report.hooks.cancelled.is_empty()
    {
        tracing::warn!(hooks = ?report.hooks, "some shutdown hooks did not finish");
    }
    // The lines logged after the hooks, should a stalled output have left them queued.
    let _ = tokio::task::spawn_blocking(|| crate::telemetry::logs::flush_stdout(FINAL_FLUSH)).await;
    ExitCode::SUCCESS
}

/// How long the process waits for its last log lines to be written before it exits.
const FINAL_FLUSH: std::time::Duration = std::time::Duration::from_secs(1);

async fn launch<S: Microservice>() -> Result<super::ServiceHandle, super::LaunchError> {
    Launcher::<S>::from_process()?.spawn().await
}

fn failed<S: Microservice>(error: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "{}: {error}", S::NAME);
    ExitCode::FAILURE
}
