//! A program that owns its globals keeps them: the service starts, logs into the program's
//! subscriber and records into the program's metrics recorder. Its own process: the globals
//! are the process's.

#![allow(clippy::unwrap_used)]

mod common;

use common::{get, spawn};
use http::StatusCode;
use metrics_util::debugging::DebuggingRecorder;

#[tokio::test]
async fn the_service_uses_the_subscriber_and_recorder_already_installed() {
    let subscriber = tracing_subscriber::fmt().with_test_writer().finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::set_global_recorder(recorder).unwrap();

    let service = spawn(&[]).await;
    assert_eq!(get(service.addr(), "/hello").await.status, StatusCode::OK);
    // The program exports its metrics its own way: the chassis serves none.
    assert_eq!(
        get(service.addr(), "/metrics").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(service.addr(), "/health/ready").await.status,
        StatusCode::OK
    );
    let names: Vec<String> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, ..)| key.key().name().to_owned())
        .collect();
    assert!(
        names
            .iter()
            .any(|name| name == "http_server_request_duration_seconds"),
        "the chassis recorded into the program's recorder: {names:?}"
    );
    service.shutdown().await;
}
