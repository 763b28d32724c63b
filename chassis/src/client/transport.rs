//! [`TransportError`]: a failed attempt, named by the endpoint it was sent to.

use std::error::Error;
use std::fmt;
use std::io::ErrorKind;

/// An attempt failed to reach or talk to an endpoint; the message names it
/// (`connection refused by 127.0.0.1:8081`), the source is the transport's own error.
#[derive(Debug)]
pub struct TransportError {
    endpoint: String,
    source: hyper_util::client::legacy::Error,
}

impl TransportError {
    pub(crate) fn new(endpoint: &str, source: hyper_util::client::legacy::Error) -> Self {
        Self {
            endpoint: endpoint.to_owned(),
            source,
        }
    }

    /// The endpoint, `host:port`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether connecting failed (no request was sent).
    pub fn is_connect(&self) -> bool {
        self.source.is_connect()
    }

    /// The I/O error under the transport's error, if any.
    fn io(&self) -> Option<&std::io::Error> {
        let mut current: Option<&(dyn Error + 'static)> = self.source.source();
        while let Some(err) = current {
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                return Some(io);
            }
            current = err.source();
        }
        None
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endpoint = &self.endpoint;
        match (self.is_connect(), self.io().map(std::io::Error::kind)) {
            (true, Some(ErrorKind::ConnectionRefused)) => {
                write!(f, "connection refused by {endpoint}")
            }
            (true, Some(ErrorKind::TimedOut)) => write!(f, "connecting to {endpoint} timed out"),
            (true, Some(_)) => match self.io() {
                Some(io) => write!(f, "cannot connect to {endpoint}: {io}"),
                None => write!(f, "cannot connect to {endpoint}"),
            },
            (true, None) => write!(f, "cannot connect to {endpoint}: {}", self.source),
            (false, Some(_)) => match self.io() {
                Some(io) => write!(f, "{endpoint}: {io}"),
                None => write!(f, "{endpoint}: {}", self.source),
            },
            (false, None) => write!(f, "{endpoint}: {}", self.source),
        }
    }
}

impl Error for TransportError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}
