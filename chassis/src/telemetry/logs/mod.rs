//! Logging: the global `tracing` subscriber and its run-time level handle.
//!
//! ```
//! use chassis::telemetry::{TelemetryConfig, logs};
//!
//! let cfg = TelemetryConfig::default();
//! // A subscriber for a test or an embedding program, writing to a sink:
//! let (subscriber, handle) = logs::subscriber(&cfg, None, std::io::sink).unwrap();
//! let dispatch = tracing::Dispatch::new(subscriber);
//! tracing::dispatcher::with_default(&dispatch, || tracing::info!("hello"));
//! handle.set_level("debug").unwrap(); // works while the subscriber lives
//! assert_eq!(handle.current_level(), "debug");
//! ```
//!
//! Services call [`init_logging`] once at start (the service runtime does). The filter sits
//! behind a `reload` layer so the level can change at run time
//! ([`admin_routes`](crate::telemetry::admin_routes) exposes it). A JSON line logged inside a
//! request, at any span depth, has the request's `trace_id`, `span_id` and `request_id` at
//! the top level, next to the current span and its fields; a text line ends with them. They
//! are read from the request's task-local context, with no per-request span unless traces are
//! exported.

pub(crate) mod correlation;
mod fields;
pub(crate) mod json;
#[cfg(test)]
mod test_buffer;
mod text;
mod timestamp;
mod writer;

pub use writer::{FlushTimedOut, LineWriter, NonBlocking, WriterHold};

use std::sync::{Mutex, PoisonError};

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use super::TelemetryError;
use super::config::{LogFormat, TelemetryConfig};

type FilterHandle = reload::Handle<EnvFilter, Registry>;
type Filtered = Layered<reload::Layer<EnvFilter, Registry>, Registry>;

/// Changes the log filter of a running process; reaches its log writer.
#[derive(Clone, Debug)]
pub struct LogHandle {
    filter: FilterHandle,
    writer: Option<NonBlocking>,
    /// The filter came from `RUST_LOG`, which wins over `telemetry.log.level`.
    from_rust_log: bool,
}

impl LogHandle {
    /// Replaces the filter with a directive such as `debug` or `info,chassis=trace`. The
    /// directive must set a default level (`info`, `warn,chassis=debug`; `off` for silence):
    /// an empty one, or one naming only targets, would silence every other log line.
    ///
    /// # Errors
    ///
    /// [`TelemetryError::InvalidFilter`] when the directive does not parse,
    /// [`TelemetryError::NoDefaultLevel`] when it sets no default level (nothing changes
    /// either way), [`TelemetryError::Reload`] when the subscriber is gone.
    pub fn set_level(&self, directive: &str) -> Result<(), TelemetryError> {
        let filter = parse_filter(directive)?;
        if !sets_default_level(directive) {
            return Err(TelemetryError::NoDefaultLevel(directive.trim().to_owned()));
        }
        self.filter.reload(filter).map_err(TelemetryError::Reload)
    }

    /// The writer [`init_logging`] made (stdout, through a [`NonBlocking`] queue); `None` for
    /// a [`subscriber`] built with a writer of the caller's.
    pub fn writer(&self) -> Option<&NonBlocking> {
        self.writer.as_ref()
    }

    /// Whether the filter came from `RUST_LOG` (which then wins over `telemetry.log.level`
    /// in the configuration, at start and on reloads).
    pub fn from_rust_log(&self) -> bool {
        self.from_rust_log
    }

    /// The filter in force, as a directive string.
    pub fn current_level(&self) -> String {
        self.filter
            .with_current(ToString::to_string)
            .unwrap_or_default()
    }
}

/// The process-wide handle, set by the first [`init_logging`].
static GLOBAL: Mutex<Option<LogHandle>> = Mutex::new(None);

/// Writes out what the process's stdout writer holds, waiting at most `timeout`: the last
/// lines before the process exits. Blocks the calling thread.
pub(crate) fn flush_stdout(timeout: std::time::Duration) {
    let writer = {
        let global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
        global.as_ref().and_then(|log| log.writer().cloned())
    };
    if let Some(writer) = writer {
        let _ = writer.flush(timeout);
    }
}

/// Lines the process's stdout writer dropped so far (its queue was full), when
/// [`init_logging`] installed one.
pub(crate) fn dropped_lines() -> Option<u64> {
    let global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    Some(global.as_ref()?.writer()?.dropped_lines())
}

/// Installs the global subscriber writing to stdout: the filter from `rust_log` when set and
/// non-empty (pass `std::env::var("RUST_LOG").ok()`), else `cfg.log.level`; the format from
/// `cfg.log.format`.
///
/// Lines go to stdout through a [`NonBlocking`] queue, written by a thread of its own: the
/// thread that logs makes no system call for it. The service runtime writes out the queue
/// at shutdown; a program of its own flushes it through [`LogHandle::writer`] before it
/// exits.
///
/// Calling it again in the same process (several services in one process) returns the handle
/// of the subscriber already installed; the first configuration wins. With the `otlp`
/// feature, that first configuration also decides whether the subscriber has the
/// OpenTelemetry layer (when `telemetry.otlp.endpoint` is set): see
/// [`otlp`](crate::telemetry::otlp).
///
/// # Errors
///
/// [`TelemetryError::InvalidFilter`] for a bad directive, [`TelemetryError::SubscriberExists`]
/// when someone else installed a global subscriber.
pub fn init_logging(
    cfg: &TelemetryConfig,
    rust_log: Option<&str>,
) -> Result<LogHandle, TelemetryError> {
    let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = global.as_ref() {
        return Ok(handle.clone());
    }
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let writer = NonBlocking::new(std::io::stdout());
    let (subscriber, mut handle) = build(cfg, rust_log, writer.clone(), ansi)?;
    handle.writer = Some(writer);
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|_| TelemetryError::SubscriberExists)?;
    *global = Some(handle.clone());
    Ok(handle)
}

/// Builds (without installing) the subscriber [`init_logging`] would install, writing to
/// `writer` without colours: for tests (`tracing::subscriber::with_default`) and embedding.
///
/// # Errors
///
/// [`TelemetryError::InvalidFilter`] for a bad directive.
pub fn subscriber<W>(
    cfg: &TelemetryConfig,
    rust_log: Option<&str>,
    writer: W,
) -> Result<(impl Subscriber + Send + Sync + 'static, LogHandle), TelemetryError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    build(cfg, rust_log, writer, false)
}

fn build<W>(
    cfg: &TelemetryConfig,
    rust_log: Option<&str>,
    writer: W,
    ansi: bool,
) -> Result<(impl Subscriber + Send + Sync + 'static, LogHandle), TelemetryError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let (directive, from_rust_log) = match rust_log.map(str::trim) {
        Some(env) if !env.is_empty() => (env, true),
        _ => (cfg.log.level.as_str(), false),
    };
    let (filter, handle) = reload::Layer::new(parse_filter(directive)?);
    let fmt: Box<dyn Layer<Filtered> + Send + Sync> = match cfg.log.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .fmt_fields(json::JsonMembers)
            .event_format(json::JsonLines)
            .with_writer(writer)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .fmt_fields(fields::PrettyFields)
            .event_format(text::PrettyWithIds::new(ansi))
            .with_writer(writer)
            .boxed(),
    };
    let subscriber = tracing_subscriber::registry().with(filter).with(fmt);
    // The OpenTelemetry layer, present only when the configuration exports traces.
    #[cfg(feature = "otlp")]
    let subscriber = subscriber.with(super::otlp::layer(cfg));
    Ok((
        subscriber,
        LogHandle {
            filter: handle,
            writer: None,
            from_rust_log,
        },
    ))
}

/// Whether one of the comma-separated directives is a bare level (`info`, `off`, ...).
/// Checks a filter directive as [`LogHandle::set_level`] would, changing nothing.
///
/// # Errors
///
/// As [`LogHandle::set_level`], but never [`TelemetryError::Reload`].
pub(crate) fn check_directive(directive: &str) -> Result<(), TelemetryError> {
    parse_filter(directive)?;
    if !sets_default_level(directive) {
        return Err(TelemetryError::NoDefaultLevel(directive.trim().to_owned()));
    }
    Ok(())
}

fn sets_default_level(directive: &str) -> bool {
    directive.split(',').map(str::trim).any(|part| {
        !part.is_empty()
            && part
                .parse::<tracing_subscriber::filter::LevelFilter>()
                .is_ok()
    })
}

fn parse_filter(directive: &str) -> Result<EnvFilter, TelemetryError> {
    EnvFilter::try_new(directive.trim()).map_err(|source| TelemetryError::InvalidFilter {
        directive: directive.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_wins_over_config() {
        let cfg = TelemetryConfig::default();
        let (_s, handle) = subscriber(&cfg, Some("warn"), std::io::sink).expect("valid");
        assert_eq!(handle.current_level(), "warn");
        let (_s, handle) = subscriber(&cfg, Some("  "), std::io::sink).expect("valid");
        assert_eq!(handle.current_level(), "info");
    }

    #[test]
    fn a_run_time_filter_must_set_a_default_level() {
        let cfg = TelemetryConfig::default();
        let (_s, handle) = subscriber(&cfg, Some("warn"), std::io::sink).expect("valid");
        for refused in [
            "",
            "  ",
            "aaaa",
            "chassis=debug",
            "catalog=trace,chassis=debug",
        ] {
            let err = handle.set_level(refused).expect_err(refused);
            assert!(
                matches!(err, TelemetryError::NoDefaultLevel(_)),
                "{refused:?}: {err}"
            );
            assert_eq!(
                handle.current_level(),
                "warn",
                "{refused:?} changed nothing"
            );
        }
        for accepted in ["off", "info", "warn,chassis=debug", "chassis=debug, ERROR"] {
            handle.set_level(accepted).expect(accepted);
        }
    }

    #[test]
    fn bad_directive_is_an_error_and_changes_nothing() {
        let cfg = TelemetryConfig::default();
        assert!(matches!(
            subscriber(&cfg, Some("info,[["), std::io::sink),
            Err(TelemetryError::InvalidFilter { .. })
        ));
        let (_s, handle) = subscriber(&cfg, None, std::io::sink).expect("valid");
        assert!(handle.set_level("=:=bogus[").is_err());
        assert_eq!(handle.current_level(), "info");
    }
}
