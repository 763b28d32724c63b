//! [`Pool`]: the client's pooled connections, cleartext or TLS, never both.
//!
//! A cleartext client builds `http://` URIs over hyper-util's `HttpConnector`, which refuses
//! any other scheme. A TLS client builds `https://` URIs over an https-only connector
//! (hyper-rustls), which refuses `http://`: no request of a TLS client can leave in cleartext,
//! whatever its URI says. The connector verifies the endpoint's host, or `tls.server_name`
//! when set (discovered endpoints are often IP addresses); ALPN offers `http/1.1`, or `h2`
//! with `http2 = true`.
//!
//! Inside a deterministic simulation (feature `simulation`, `chassis::testing::Simulation`)
//! a cleartext client connects over the simulated network instead; TLS is not simulated and
//! a TLS client is refused there.

use std::time::Duration;

use http::Request;
use http::uri::Scheme;
use hyper_rustls::{FixedServerNameResolver, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::balance::OutBody;
use super::tls::{self, TlsConfigError};
use crate::resilience::config::ClientResilienceConfig;

/// How long connecting to an endpoint may take (TCP; the TLS handshake is bounded by the
/// attempt's and the call's timeouts).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long an idle pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// The pooled connections of one client.
#[derive(Debug)]
pub(crate) enum Pool {
    /// `http://`, cleartext.
    Cleartext(Client<HttpConnector, OutBody>),
    /// `https://` only.
    Tls(Client<HttpsConnector<HttpConnector>, OutBody>),
    /// `http://` over a simulated network.
    #[cfg(feature = "simulation")]
    Simulated(Client<crate::testing::simulation::Connector, OutBody>),
}

impl Pool {
    /// The transport `config` asks for: TLS when [`ClientResilienceConfig::uses_tls`], its
    /// rustls configuration built here, once.
    pub(crate) fn new(config: &ClientResilienceConfig) -> Result<Self, TlsConfigError> {
        #[cfg(feature = "simulation")]
        if turmoil::in_simulation() {
            if config.uses_tls() {
                return Err(TlsConfigError::Simulated);
            }
            let connector = crate::testing::simulation::Connector {
                timeout: CONNECT_TIMEOUT,
            };
            return Ok(Self::Simulated(pool(connector, config.http2)));
        }
        if !config.uses_tls() {
            return Ok(Self::Cleartext(pool(tcp(), config.http2)));
        }
        let tls = &config.tls;
        let builder = HttpsConnectorBuilder::new()
            .with_tls_config(tls::client_config(tls)?)
            .https_only();
        let builder = match &tls.server_name {
            Some(name) => {
                let name = tls::server_name(name)
                    .ok_or_else(|| TlsConfigError::ServerName(name.clone()))?;
                builder.with_server_name_resolver(FixedServerNameResolver::new(name))
            }
            None => builder,
        };
        let mut tcp = tcp();
        // The https-only connector checks the scheme; the TCP one under it must not.
        tcp.enforce_http(false);
        let connector = if config.http2 {
            builder.enable_http2().wrap_connector(tcp)
        } else {
            builder.enable_http1().wrap_connector(tcp)
        };
        Ok(Self::Tls(pool(connector, config.http2)))
    }

    /// The scheme of every request sent.
    pub(crate) fn scheme(&self) -> Scheme {
        match self {
            Self::Cleartext(_) => Scheme::HTTP,
            Self::Tls(_) => Scheme::HTTPS,
            #[cfg(feature = "simulation")]
            Self::Simulated(_) => Scheme::HTTP,
        }
    }

    /// Sends `request` (an absolute URI of [`Pool::scheme`]) on a pooled connection.
    pub(crate) fn request(&self, request: Request<OutBody>) -> ResponseFuture {
        match self {
            Self::Cleartext(client) => client.request(request),
            Self::Tls(client) => client.request(request),
            #[cfg(feature = "simulation")]
            Self::Simulated(client) => client.request(request),
        }
    }
}

fn tcp() -> HttpConnector {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    connector.set_nodelay(true);
    connector
}

fn pool<C>(connector: C, http2: bool) -> Client<C, OutBody>
where
    C: hyper_util::client::legacy::connect::Connect + Clone,
{
    // Tokio's timer: idle connections expire on tokio's clock (the simulated one in a
    // simulation) and are reaped in the background, not only when next checked out.
    Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE)
        .http2_only(http2)
        .build(connector)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::client::balance::OutBody;

    /// The connector itself refuses `http://`: even a URI built wrongly cannot leave a TLS
    /// client in cleartext.
    #[tokio::test]
    async fn a_tls_pool_sends_nothing_to_an_http_uri() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let mut config = ClientResilienceConfig::default();
        config.tls.enabled = true;
        let pool = Pool::new(&config).expect("the system's roots");
        assert_eq!(pool.scheme(), Scheme::HTTPS);
        let request = Request::get(format!("http://{addr}/items"))
            .body(OutBody::replay(bytes::Bytes::new(), None))
            .expect("request");
        let sent = tokio::time::timeout(Duration::from_secs(2), pool.request(request)).await;
        let error = sent.expect("refused at once").expect_err("refused");
        assert!(error.is_connect(), "{error:?}");
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "a connection was opened");
    }
}
