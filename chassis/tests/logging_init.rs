//! `init_logging` installs the global subscriber once; later calls share its handle.
//! (Its own test binary: the global subscriber is per process.)

use chassis::telemetry::{TelemetryConfig, init_logging};

#[test]
fn second_init_returns_the_installed_handle() {
    let mut cfg = TelemetryConfig::default();
    cfg.log.level = "warn".to_owned();
    let first = init_logging(&cfg, None).expect("first install");
    assert_eq!(first.current_level(), "warn");

    // Another service in the same process, with its own (ignored) configuration.
    let second = init_logging(&TelemetryConfig::default(), Some("trace")).expect("second call");
    assert_eq!(
        second.current_level(),
        "warn",
        "the first configuration wins"
    );

    second.set_level("error").expect("valid directive");
    assert_eq!(
        first.current_level(),
        "error",
        "both handles reach the same filter"
    );
    assert!(tracing::enabled!(tracing::Level::ERROR));
    assert!(!tracing::enabled!(tracing::Level::WARN));
}

#[test]
fn the_installed_writer_queues_and_is_flushed_on_release() {
    // The same configuration as the test above: whichever runs first installs it.
    let mut cfg = TelemetryConfig::default();
    cfg.log.level = "warn".to_owned();
    let handle = init_logging(&cfg, None).expect("installed or shared");
    let writer = handle
        .writer()
        .expect("init_logging writes to stdout through a queue");
    let hold = writer.hold();
    tracing::error!("a line queued for stdout");
    hold.release(std::time::Duration::from_secs(5))
        .expect("the queue is written to stdout");
    assert_eq!(writer.dropped_lines(), 0);
}

/// Without the OpenTelemetry layer in the subscriber, `otlp::install` warns that the spans
/// handlers make are not exported (request spans are); the warning names the endpoint without
/// its credentials.
#[cfg(feature = "otlp")]
#[tokio::test]
async fn the_no_layer_warning_hides_the_endpoints_credentials() {
    use std::io;
    use std::sync::{Arc, Mutex, PoisonError};

    use chassis::telemetry::logs;
    use chassis::telemetry::otlp::{ServiceResource, install};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    // This process's subscribers are all built without an endpoint: no OpenTelemetry layer.
    let captured = Captured::default();
    let writer = captured.clone();
    let (subscriber, _handle) =
        logs::subscriber(&TelemetryConfig::default(), Some("info"), move || {
            writer.clone()
        })
        .expect("valid filter");
    let _default = tracing::subscriber::set_default(subscriber);

    let mut cfg = TelemetryConfig::default();
    cfg.otlp.endpoint = Some("http://tenant:hunter2@otlp.example.com:4317".to_owned());
    let resource = ServiceResource {
        name: "catalog",
        version: "0.1.0",
        instance_id: "catalog-1",
    };
    let guard = install(&cfg, &resource).expect("no error");
    let guard = guard.expect("request spans are exported all the same");

    let logged = {
        let bytes = captured.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    };
    assert!(
        logged.contains("spans made with `tracing` inside handlers are not exported"),
        "{logged}"
    );
    assert!(
        logged.contains("http://***@otlp.example.com:4317"),
        "{logged}"
    );
    assert!(!logged.contains("hunter2"), "the password leaked: {logged}");
    // Nothing was recorded: the flush has nothing to send to the unreachable collector.
    guard
        .shutdown(std::time::Duration::from_secs(5))
        .await
        .expect("an empty flush");
}

/// The stdout writer's dropped lines are a process series on every service's `/metrics`.
#[test]
fn dropped_lines_are_on_metrics() {
    let mut cfg = TelemetryConfig::default();
    cfg.log.level = "warn".to_owned();
    init_logging(&cfg, None).expect("installed or shared");
    let metrics = chassis::telemetry::metrics::install_prometheus().expect("recorder");
    let text = metrics.render();
    assert!(
        text.lines()
            .any(|line| line.starts_with("chassis_log_lines_dropped_total ")),
        "{text}"
    );
}
