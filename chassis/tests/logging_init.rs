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
