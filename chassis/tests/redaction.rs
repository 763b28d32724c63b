//! Credentials in configured URLs never reach a log line or an error: the OTLP endpoint when
//! export starts or cannot be set up, the etcd endpoints in discovery's errors and `Debug`.
//! Log lines are captured through a subscriber built as `init_logging` builds it, installed
//! for the test's thread only.

#![allow(clippy::unwrap_used)]

#[cfg(feature = "otlp")]
use std::io;
#[cfg(feature = "otlp")]
use std::sync::{Arc, Mutex, PoisonError};

#[cfg(feature = "otlp")]
use chassis::telemetry::{TelemetryConfig, TelemetryError, logs};

/// Log output kept in memory.
#[cfg(feature = "otlp")]
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

#[cfg(feature = "otlp")]
impl Captured {
    fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(feature = "otlp")]
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

#[cfg(feature = "otlp")]
mod otlp {
    use std::time::Duration;

    use chassis::telemetry::otlp::{ServiceResource, install};

    use super::*;

    const RESOURCE: ServiceResource<'static> = ServiceResource {
        name: "catalog",
        version: "0.1.0",
        instance_id: "catalog-1",
    };

    fn exporting_to(endpoint: &str) -> TelemetryConfig {
        let mut cfg = TelemetryConfig::default();
        cfg.otlp.endpoint = Some(endpoint.to_owned());
        cfg
    }

    /// A subscriber with the OpenTelemetry layer, as `init_logging` builds it for `cfg`,
    /// writing to `captured`; the default for this thread while the guard lives.
    fn capture(cfg: &TelemetryConfig, captured: &Captured) -> tracing::subscriber::DefaultGuard {
        let writer = captured.clone();
        let (subscriber, _handle) =
            logs::subscriber(cfg, Some("info"), move || writer.clone()).expect("valid filter");
        tracing::subscriber::set_default(subscriber)
    }

    #[tokio::test]
    async fn the_otlp_endpoint_is_logged_without_its_credentials() {
        let cfg = exporting_to("http://collector:hunter2@127.0.0.1:4317/v1");
        let captured = Captured::default();
        let _default = capture(&cfg, &captured);

        let guard = install(&cfg, &RESOURCE)
            .expect("exporter")
            .expect("enabled");
        let logged = captured.text();
        assert!(logged.contains("exporting traces over OTLP"), "{logged}");
        assert!(
            logged.contains("http://***@127.0.0.1:4317/v1"),
            "host, port and path stay: {logged}"
        );
        assert!(!logged.contains("hunter2"), "the password leaked: {logged}");
        // Nothing was sent: the flush finds nothing to export.
        let _ = guard.shutdown(Duration::from_millis(100)).await;
    }

    #[tokio::test]
    async fn an_otlp_set_up_error_does_not_carry_the_credentials() {
        // A space makes the URL invalid for the exporter, whose error quotes it.
        let cfg = exporting_to("http://collector:hunter2@127.0.0.1:4317/ v1");
        let captured = Captured::default();
        let _default = capture(&cfg, &captured);

        let err = install(&cfg, &RESOURCE).expect_err("an invalid endpoint");
        let TelemetryError::Otlp { endpoint, .. } = &err else {
            panic!("expected TelemetryError::Otlp, got {err:?}");
        };
        assert_eq!(endpoint, "http://***@127.0.0.1:4317/ v1");
        let shown = format!("{err} {err:?} {}", captured.text());
        assert!(shown.contains("***@127.0.0.1:4317"), "{shown}");
        assert!(!shown.contains("hunter2"), "the password leaked: {shown}");
    }
}

#[cfg(feature = "etcd")]
mod etcd {
    use chassis::config::EtcdConfig;
    use chassis::discovery::EtcdDiscovery;

    fn with_endpoint(endpoint: &str) -> EtcdConfig {
        EtcdConfig {
            endpoints: vec![endpoint.to_owned()],
            ..EtcdConfig::default()
        }
    }

    #[test]
    fn etcd_endpoints_show_without_their_credentials() {
        let backend =
            EtcdDiscovery::from_config(&with_endpoint("http://root:hunter2@etcd:2379")).unwrap();
        let shown = format!("{backend:?}");
        assert!(shown.contains("http://***@etcd:2379"), "{shown}");
        assert!(!shown.contains("hunter2"), "the password leaked: {shown}");

        for refused in [
            "https://root:hunter2@etcd:2379",
            "http://root:hunter2@etcd:2379/ x",
        ] {
            let err = EtcdDiscovery::from_config(&with_endpoint(refused)).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(shown.contains("***@etcd:2379"), "{shown}");
            assert!(!shown.contains("hunter2"), "the password leaked: {shown}");
        }
    }
}
