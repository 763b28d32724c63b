//! Log capture per service: one process-wide subscriber whose writer files each line under
//! the service whose code logged it (the [`ServiceScope`] current at that moment).

use std::collections::BTreeMap;
use std::io;
use std::sync::{Mutex, OnceLock, PoisonError};

use tracing_subscriber::fmt::MakeWriter;

use crate::telemetry::metrics::ServiceScope;
use crate::telemetry::{LogFormat, TelemetryConfig, logs};

/// Where lines logged outside any service are filed.
const NO_SERVICE: &str = "";

/// The process's captured lines, by service name; `None` when another subscriber was
/// installed first.
static CAPTURED: OnceLock<Option<Lines>> = OnceLock::new();

#[derive(Debug, Default)]
struct Lines(Mutex<BTreeMap<&'static str, Vec<String>>>);

/// Installs the capturing subscriber once per process (JSON lines, the filter from
/// `RUST_LOG` or `info`). Returns whether capture is on: false when the program installed
/// a subscriber of its own first, whose lines then go where it sends them.
pub(crate) fn install() -> bool {
    CAPTURED
        .get_or_init(|| {
            let mut config = TelemetryConfig::default();
            config.log.format = LogFormat::Json;
            let rust_log = std::env::var("RUST_LOG").ok();
            let (subscriber, _) = logs::subscriber(&config, rust_log.as_deref(), Capture).ok()?;
            tracing::subscriber::set_global_default(subscriber).ok()?;
            Some(Lines::default())
        })
        .is_some()
}

/// How many lines `service` has logged so far.
pub(crate) fn count(service: &str) -> usize {
    with_lines(service, <[String]>::len)
}

/// The lines `service` logged, from the `from`-th on.
pub(crate) fn since(service: &str, from: usize) -> Vec<String> {
    with_lines(service, |lines| {
        lines.get(from..).unwrap_or_default().to_vec()
    })
}

fn with_lines<R>(service: &str, read: impl FnOnce(&[String]) -> R) -> R {
    let Some(Some(Lines(lines))) = CAPTURED.get() else {
        return read(&[]);
    };
    let lines = lines.lock().unwrap_or_else(PoisonError::into_inner);
    read(lines.get(service).map_or(&[], Vec::as_slice))
}

/// The writer factory: one buffer per event, filed when the event is written.
#[derive(Debug, Clone, Copy)]
struct Capture;

impl<'a> MakeWriter<'a> for Capture {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> EventWriter {
        EventWriter {
            service: ServiceScope::current().map_or(NO_SERVICE, ServiceScope::name),
            buffer: Vec::new(),
        }
    }
}

/// One event's text, filed under its service when dropped.
#[derive(Debug)]
struct EventWriter {
    service: &'static str,
    buffer: Vec<u8>,
}

impl io::Write for EventWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let Some(Some(Lines(lines))) = CAPTURED.get() else {
            return;
        };
        let text = String::from_utf8_lossy(&self.buffer);
        let mut lines = lines.lock().unwrap_or_else(PoisonError::into_inner);
        let filed = lines.entry(self.service).or_default();
        filed.extend(text.lines().map(str::to_owned));
    }
}
