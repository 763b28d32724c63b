//! Whether, and by which service, the server layer's spans are exported.

/// Where a server layer's spans are exported: the service's provider, or (default) the
/// first service of the process that exports.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Export {
    #[cfg(feature = "otlp")]
    pub(crate) slot: Option<u32>,
}

/// Whether spans are being exported (OTLP on for some service of this process): only then
/// does the server layer make a request span. Without export there is none: log lines take
/// the ids from the task-local context either way.
pub(crate) fn exporting() -> bool {
    #[cfg(feature = "otlp")]
    {
        super::otlp::is_active()
    }
    #[cfg(not(feature = "otlp"))]
    {
        false
    }
}
