//! Binding a service's ports: TCP, or the simulated network inside a deterministic
//! simulation (feature `simulation`).

use axum::body::Body;
use http::{Request, Response};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::LaunchError;
use crate::config::ServerConfig;
use crate::server::{ForConnection, Serving};

/// A bound port: TCP, or inside a deterministic simulation (feature `simulation`) the
/// simulated network's.
pub(super) enum Bound {
    Tcp(TcpListener),
    #[cfg(feature = "simulation")]
    Simulated(turmoil::net::TcpListener),
}

impl Bound {
    /// Serves `service` on this port (see [`Serving::start`]).
    pub(super) fn serve<S>(
        self,
        service: S,
        config: &ServerConfig,
        draining: CancellationToken,
    ) -> std::io::Result<Serving>
    where
        S: tower::Service<
                Request<Incoming>,
                Response = Response<Body>,
                Error = std::convert::Infallible,
            > + ForConnection
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        match self {
            Bound::Tcp(listener) => Serving::start(listener, service, config, draining),
            #[cfg(feature = "simulation")]
            Bound::Simulated(listener) => Serving::start(listener, service, config, draining),
        }
    }
}

pub(super) async fn bind(host: &str, port: u16) -> Result<Bound, LaunchError> {
    let failed = |source| bind_error_at(format!("{host}:{port}"), source);
    #[cfg(feature = "simulation")]
    if turmoil::in_simulation() {
        return turmoil::net::TcpListener::bind((host, port))
            .await
            .map(Bound::Simulated)
            .map_err(failed);
    }
    TcpListener::bind((host, port))
        .await
        .map(Bound::Tcp)
        .map_err(failed)
}

pub(super) fn bind_error(port: u16, source: std::io::Error) -> LaunchError {
    bind_error_at(format!("port {port}"), source)
}

fn bind_error_at(addr: String, source: std::io::Error) -> LaunchError {
    LaunchError::Bind { addr, source }
}
