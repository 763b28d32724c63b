//! The client's duration histogram, one handle per label set, found without building a key.
//!
//! `metrics::histogram!` with five labels builds a key (a label vector, the status as a
//! string) and looks it up in the recorder's registry on every call. The label values here
//! come from small, fixed sets (the route templates of the code, the methods, the status
//! codes, the error kinds), so each client keeps the handles it has made and finds them
//! again by a few words. A handle stays with the recorder installed when it was made, as
//! the server's do: the service runtime installs its recorder before any client exists.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use metrics::Histogram;

/// One label set of `http_client_request_duration_seconds`, server address aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Series {
    pub(super) method: &'static str,
    pub(super) route: &'static str,
    /// The response status, 0 when the call failed without one.
    pub(super) status: u16,
    /// The error kind, empty for a response.
    pub(super) error_type: &'static str,
}

/// The histograms of one client (its `server_address`).
#[derive(Debug)]
pub(super) struct ClientSeries {
    server: Arc<str>,
    made: RwLock<HashMap<Series, Histogram>>,
}

impl ClientSeries {
    pub(super) fn new(server: Arc<str>) -> Self {
        Self {
            server,
            made: RwLock::default(),
        }
    }

    /// Records `seconds` in the histogram of `series`, making it the first time.
    pub(super) fn record(&self, series: Series, seconds: f64) {
        let known = self
            .made
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&series)
            .cloned();
        let histogram = known.unwrap_or_else(|| {
            let made = self.make(series);
            self.made
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(series)
                .or_insert(made)
                .clone()
        });
        histogram.record(seconds);
    }

    fn make(&self, series: Series) -> Histogram {
        let status = if series.status == 0 {
            String::new()
        } else {
            series.status.to_string()
        };
        metrics::histogram!(
            "http_client_request_duration_seconds",
            "http_request_method" => series.method,
            "http_route" => series.route,
            "http_response_status_code" => status,
            "error_type" => series.error_type,
            "server_address" => Arc::clone(&self.server),
        )
    }
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    #[test]
    fn each_label_set_gets_its_own_series_with_every_sample() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let series = ClientSeries::new(Arc::from("catalog"));
            let ok = Series {
                method: "GET",
                route: "/items/{id}",
                status: 200,
                error_type: "",
            };
            let failed = Series {
                status: 0,
                error_type: "timeout",
                ..ok
            };
            series.record(ok, 0.25);
            series.record(ok, 0.5);
            series.record(failed, 1.0);
        });
        let mut seen: Vec<(Vec<String>, usize)> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let labels = key
                    .key()
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                let DebugValue::Histogram(samples) = value else {
                    panic!("a histogram");
                };
                (labels, samples.len())
            })
            .collect();
        seen.sort();
        let labels = |status: &str, error: &str| {
            vec![
                "http_request_method=GET".to_owned(),
                "http_route=/items/{id}".to_owned(),
                format!("http_response_status_code={status}"),
                format!("error_type={error}"),
                "server_address=catalog".to_owned(),
            ]
        };
        assert_eq!(
            seen,
            vec![(labels("", "timeout"), 1), (labels("200", ""), 2)]
        );
    }
}
