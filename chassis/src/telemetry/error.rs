//! Set-up errors of the telemetry module.

/// A failure to set up logging, metrics or the log level.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// A log filter directive did not parse.
    #[error("invalid log filter directive `{directive}`: {source}")]
    InvalidFilter {
        /// The directive as given.
        directive: String,
        /// The parser's complaint.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// A log filter set at run time names no default level: everything it does not name
    /// would be silenced.
    #[error(
        "log filter `{0}` sets no default level: give one, as in `info` or `warn,chassis=debug` (`off` turns logs off)"
    )]
    NoDefaultLevel(String),
    /// Another global `metrics` recorder was installed by someone else.
    #[error("a global metrics recorder is already installed")]
    RecorderExists,
    /// Another `tracing` subscriber was installed globally by someone else.
    #[error("a global tracing subscriber is already installed")]
    SubscriberExists,
    /// The log filter could not be swapped (the subscriber was dropped).
    #[error("log filter reload failed: {0}")]
    Reload(#[source] tracing_subscriber::reload::Error),
    /// The Prometheus recorder could not be built or installed (another recorder is global).
    #[error("prometheus recorder: {0}")]
    Prometheus(#[source] metrics_exporter_prometheus::BuildError),
    /// The OTLP exporter could not be built (feature `otlp`).
    #[error("otlp exporter for `{endpoint}`: {source}")]
    Otlp {
        /// The configured endpoint, its credentials hidden (`http://***@host:4317`).
        endpoint: String,
        /// The exporter's complaint, the credentials of any URL in it hidden.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// OTLP export was set up outside a tokio runtime.
    #[error("otlp export must be installed inside a tokio runtime")]
    OtlpRuntime,
    /// Flushing or shutting down the OTLP exporter failed or timed out.
    #[error("otlp shutdown: {0}")]
    OtlpShutdown(String),
}
