//! [`ClientRegistry`]: the clients (and gRPC channels) a service made, by name, and what the
//! admin endpoints show of them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

use super::HttpClient;
#[cfg(feature = "grpc")]
use crate::grpc::GrpcChannel;
use crate::resilience::breaker::{BreakerMetrics, CircuitBreaker, State};

/// What the admin endpoints and metrics call the gRPC channel to `name`: `grpc:<name>`,
/// apart from an HTTP client of the same service.
pub(crate) const GRPC_PREFIX: &str = "grpc:";

/// The clients of one service, by name, and its gRPC channels (feature `grpc`); cheap to
/// clone, clones share them.
///
/// [`Context::client`](crate::service::Context::client) and `Context::grpc` make each
/// client or channel once and keep it here, where a live configuration change reaches it and
/// `/admin/breakers` and `/admin/clients` find it. There a channel is named `grpc:<name>`
/// (as its metrics are), apart from an HTTP client of the same service.
#[derive(Debug, Clone, Default)]
pub struct ClientRegistry {
    clients: Arc<Mutex<BTreeMap<String, HttpClient>>>,
    #[cfg(feature = "grpc")]
    channels: Arc<Mutex<BTreeMap<String, GrpcChannel>>>,
}

impl ClientRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The client named `name`, if made.
    pub fn get(&self, name: &str) -> Option<HttpClient> {
        lock(&self.clients).get(name).cloned()
    }

    /// The client named `name`, made by `make` on first use.
    ///
    /// # Errors
    ///
    /// `make`'s, when it fails (nothing is kept then).
    pub fn get_or_make<E>(
        &self,
        name: &str,
        make: impl FnOnce() -> Result<HttpClient, E>,
    ) -> Result<HttpClient, E> {
        get_or_make(&self.clients, name, make)
    }

    /// Every client, by name.
    pub fn all(&self) -> Vec<HttpClient> {
        lock(&self.clients).values().cloned().collect()
    }

    /// The names of the clients made.
    pub fn names(&self) -> Vec<String> {
        lock(&self.clients).keys().cloned().collect()
    }

    /// The gRPC channel to service `name`, if made.
    #[cfg(feature = "grpc")]
    pub fn channel(&self, name: &str) -> Option<GrpcChannel> {
        lock(&self.channels).get(name).cloned()
    }

    /// The gRPC channel to service `name`, made by `make` on first use.
    ///
    /// # Errors
    ///
    /// `make`'s, when it fails (nothing is kept then).
    #[cfg(feature = "grpc")]
    pub fn channel_or_make<E>(
        &self,
        name: &str,
        make: impl FnOnce() -> Result<GrpcChannel, E>,
    ) -> Result<GrpcChannel, E> {
        get_or_make(&self.channels, name, make)
    }

    /// Every gRPC channel, by the name of the service it calls.
    #[cfg(feature = "grpc")]
    pub fn channels(&self) -> Vec<GrpcChannel> {
        lock(&self.channels).values().cloned().collect()
    }

    /// The `clients.<name>` sections the clients and channels made read (names with `-`
    /// as `_`).
    pub fn sections(&self) -> Vec<String> {
        #[allow(unused_mut, reason = "gRPC channels read sections too")]
        let mut names = self.names();
        #[cfg(feature = "grpc")]
        names.extend(lock(&self.channels).keys().cloned());
        names.iter().map(|name| name.replace('-', "_")).collect()
    }

    /// The breaker `GET /admin/breakers/{name}` names: a client's by its name, a channel's
    /// by `grpc:<name>`.
    pub fn breaker(&self, name: &str) -> Option<CircuitBreaker> {
        #[cfg(feature = "grpc")]
        if let Some(service) = name.strip_prefix(GRPC_PREFIX) {
            return self.channel(service).map(|channel| channel.breaker());
        }
        self.get(name).map(|client| client.breaker())
    }

    /// Every breaker: the clients', then the channels'.
    pub fn breakers(&self) -> Vec<CircuitBreaker> {
        #[allow(unused_mut, reason = "gRPC channels have breakers too")]
        let mut breakers: Vec<CircuitBreaker> =
            self.all().iter().map(HttpClient::breaker).collect();
        #[cfg(feature = "grpc")]
        breakers.extend(self.channels().iter().map(GrpcChannel::breaker));
        breakers
    }

    /// The status of the client (or `grpc:<name>` channel) `name`.
    pub fn status(&self, name: &str) -> Option<ClientStatus> {
        #[cfg(feature = "grpc")]
        if let Some(service) = name.strip_prefix(GRPC_PREFIX) {
            return self.channel(service).map(|c| ClientStatus::of_channel(&c));
        }
        self.get(name).map(|client| ClientStatus::of(&client))
    }

    /// The status of every client, then of every channel.
    pub fn statuses(&self) -> Vec<ClientStatus> {
        #[allow(unused_mut, reason = "gRPC channels too")]
        let mut statuses: Vec<ClientStatus> = self.all().iter().map(ClientStatus::of).collect();
        #[cfg(feature = "grpc")]
        statuses.extend(self.channels().iter().map(ClientStatus::of_channel));
        statuses
    }
}

fn lock<T>(map: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The value of `name` in `map`, made by `make` and kept on first use.
fn get_or_make<T: Clone, E>(
    map: &Mutex<BTreeMap<String, T>>,
    name: &str,
    make: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let mut entries = lock(map);
    if let Some(found) = entries.get(name) {
        return Ok(found.clone());
    }
    let value = make()?;
    entries.insert(name.to_owned(), value.clone());
    Ok(value)
}

/// A circuit breaker as `GET /admin/breakers` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreakerStatus {
    /// The breaker's name: the client's, or `grpc:<name>` for a gRPC channel's.
    pub name: String,
    /// `closed`, `open`, `half_open`, `forced_open` or `disabled`.
    pub state: &'static str,
    /// Calls in the window (the trial calls, in half-open).
    pub calls: u64,
    /// Failed calls in the window.
    pub failed_calls: u64,
    /// Slow calls in the window.
    pub slow_calls: u64,
    /// Calls rejected since the breaker was built.
    pub rejected_calls: u64,
    /// Percent of failed calls; `null` below the minimum number of calls.
    pub failure_rate: Option<f32>,
    /// Percent of slow calls; `null` below the minimum, or with detection off.
    pub slow_call_rate: Option<f32>,
}

impl BreakerStatus {
    /// The status of `breaker`.
    pub fn of(breaker: &CircuitBreaker) -> Self {
        let BreakerMetrics {
            state,
            calls,
            failed_calls,
            slow_calls,
            rejected_calls,
            failure_rate,
            slow_call_rate,
            ..
        } = breaker.metrics();
        Self {
            name: breaker.name().to_owned(),
            state: state.as_str(),
            calls,
            failed_calls,
            slow_calls,
            rejected_calls,
            failure_rate,
            slow_call_rate,
        }
    }
}

/// One endpoint of a client as `GET /admin/clients` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointStatus {
    /// `host:port`.
    pub address: String,
    /// The state of the endpoint's breaker.
    pub state: &'static str,
    /// Whether outlier ejection keeps calls away from it (its breaker is not closed).
    pub ejected: bool,
}

/// A client as `GET /admin/clients` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientStatus {
    /// The service it calls; `grpc:<name>` for a gRPC channel.
    pub name: String,
    /// Its circuit breaker.
    pub breaker: BreakerStatus,
    /// The endpoints it balances over now.
    pub endpoints: Vec<EndpointStatus>,
}

impl ClientStatus {
    /// The status of `client`.
    pub fn of(client: &HttpClient) -> Self {
        Self::from_parts(
            client.name().to_owned(),
            &client.breaker(),
            client.endpoint_states(),
        )
    }

    /// The status of the gRPC channel `channel`, named `grpc:<name>`.
    #[cfg(feature = "grpc")]
    pub fn of_channel(channel: &GrpcChannel) -> Self {
        let breaker = channel.breaker();
        Self::from_parts(
            breaker.name().to_owned(),
            &breaker,
            channel.endpoint_states(),
        )
    }

    fn from_parts(name: String, breaker: &CircuitBreaker, endpoints: Vec<(String, State)>) -> Self {
        let endpoints = endpoints
            .into_iter()
            .map(|(address, state)| EndpointStatus {
                address,
                state: state.as_str(),
                ejected: !matches!(state, State::Closed | State::Disabled),
            })
            .collect();
        Self {
            name,
            breaker: BreakerStatus::of(breaker),
            endpoints,
        }
    }
}
