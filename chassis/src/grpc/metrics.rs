//! RPC metrics by the OpenTelemetry RPC conventions: `rpc_server_call_duration_seconds` and
//! `rpc_client_call_duration_seconds`, labelled `rpc_system="grpc"`, `rpc_service`,
//! `rpc_method` and `rpc_grpc_status_code`.
//!
//! A call is measured to the end of its response stream, its status read from the trailers
//! (or from the headers of a trailers-only answer). A method the server does not have
//! (answered `UNIMPLEMENTED`) is labelled `_OTHER`: a caller cannot grow the label set by
//! inventing method names.

use std::sync::{Arc, PoisonError, RwLock};

use metrics::Histogram;
use tonic::Code;

use crate::telemetry::metrics::names::{
    RPC_CLIENT_CALL_DURATION, RPC_METHOD_LABEL, RPC_SERVER_CALL_DURATION, RPC_SERVICE_LABEL,
    RPC_STATUS_LABEL, RPC_SYSTEM_LABEL,
};

mod body;
mod server;

pub(crate) use body::{End, Finish, RpcBody};
pub(crate) use server::RpcServerLayer;

/// The label of a method the server does not have.
const OTHER_METHOD: &str = "_OTHER";

/// Which side of a call is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

/// One cached histogram: its service, method and code.
type Handle = (Box<str>, Box<str>, i32, Histogram);

/// The duration histograms of one side, cached per (service, method, code): a short list
/// read under a shared lock, written once per new combination.
#[derive(Debug)]
pub(crate) struct RpcSeries {
    side: Side,
    handles: RwLock<Vec<Handle>>,
}

impl RpcSeries {
    pub(crate) fn new(side: Side) -> Arc<Self> {
        Arc::new(Self {
            side,
            handles: RwLock::default(),
        })
    }

    /// Records a call of `path` (`/package.Service/Method`) that ended with `code` after
    /// `seconds`.
    pub(crate) fn record(&self, path: &str, code: Code, seconds: f64) {
        let (service, method) = split_path(path);
        let method = if code == Code::Unimplemented {
            OTHER_METHOD
        } else {
            method
        };
        let code = code as i32;
        let found = self
            .handles
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(s, m, c, _)| **s == *service && **m == *method && *c == code)
            .map(|(_, _, _, histogram)| histogram.clone());
        let histogram = found.unwrap_or_else(|| {
            let histogram = self.histogram(service, method, code);
            self.handles
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .push((service.into(), method.into(), code, histogram.clone()));
            histogram
        });
        histogram.record(seconds);
    }

    fn histogram(&self, service: &str, method: &str, code: i32) -> Histogram {
        let name = match self.side {
            Side::Server => RPC_SERVER_CALL_DURATION,
            Side::Client => RPC_CLIENT_CALL_DURATION,
        };
        metrics::histogram!(
            name,
            RPC_SYSTEM_LABEL => "grpc",
            RPC_SERVICE_LABEL => service.to_owned(),
            RPC_METHOD_LABEL => method.to_owned(),
            RPC_STATUS_LABEL => code.to_string()
        )
    }
}

/// `("package.Service", "Method")` of a gRPC path `/package.Service/Method`.
pub(crate) fn split_path(path: &str) -> (&str, &str) {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.split_once('/').unwrap_or((path, OTHER_METHOD))
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::DebuggingRecorder;

    use super::*;

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(split_path("/echo.v1.Echo/Say"), ("echo.v1.Echo", "Say"));
        assert_eq!(split_path("/echo.v1.Echo"), ("echo.v1.Echo", "_OTHER"));
    }

    #[test]
    fn an_unknown_method_is_other() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let series = RpcSeries::new(Side::Server);
            series.record("/echo.v1.Echo/Say", Code::Ok, 0.1);
            series.record("/echo.v1.Echo/Say", Code::Ok, 0.2);
            series.record("/echo.v1.Echo/Invented1", Code::Unimplemented, 0.1);
            series.record("/echo.v1.Echo/Invented2", Code::Unimplemented, 0.1);
        });
        let mut methods: Vec<(String, usize)> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let method = key
                    .key()
                    .labels()
                    .find(|l| l.key() == RPC_METHOD_LABEL)
                    .map(|l| l.value().to_owned())
                    .unwrap_or_default();
                let n = match value {
                    metrics_util::debugging::DebugValue::Histogram(v) => v.len(),
                    _ => 0,
                };
                (method, n)
            })
            .collect();
        methods.sort();
        assert_eq!(methods, [("Say".to_owned(), 2), ("_OTHER".to_owned(), 2)]);
    }
}
