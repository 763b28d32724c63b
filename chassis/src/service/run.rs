//! [`run`]: the whole life of a service process, for `main`.

use std::io::Write as _;
use std::process::ExitCode;

use super::{Launcher, Microservice};
use crate::shutdown::wait_for_signal;

/// Exit status after a second signal.
const SECOND_SIGNAL_EXIT: i32 = 130;

/// Runs `S` until SIGTERM or SIGINT and the shutdown sequence complete.
///
/// Exit status: 0 after a graceful shutdown; 1 when configuration is invalid (the report,
/// one line per problem, goes to stderr before anything is bound) or start-up fails; 130 at
/// once on a second signal.
pub async fn run<S: Microservice>() -> ExitCode {
    let launched = match Launcher::<S>::from_process() {
        Ok(launcher) => launcher.spawn().await,
        Err(error) => Err(error),
    };
    let handle = match launched {
        Ok(handle) => handle,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "{}: {error}", S::NAME);
            return ExitCode::FAILURE;
        }
    };
    let shutdown = handle.shutdown_handle().clone();
    tokio::select! {
        signal = wait_for_signal() => match signal {
            Ok(kind) => tracing::info!(signal = ?kind, "shutdown requested"),
            Err(error) => {
                tracing::error!(%error, "cannot listen for signals; shutting down");
            }
        },
        () = shutdown.triggered() => {}
    }
    shutdown.trigger();
    tokio::spawn(async {
        if wait_for_signal().await.is_ok() {
            let _ = writeln!(std::io::stderr(), "second signal: exiting at once");
            std::process::exit(SECOND_SIGNAL_EXIT);
        }
    });
    let report = handle.stopped().await;
    if !report.hooks.timed_out.is_empty() || !report.hooks.panicked.is_empty() {
        tracing::warn!(hooks = ?report.hooks, "some shutdown hooks did not finish");
    }
    ExitCode::SUCCESS
}
