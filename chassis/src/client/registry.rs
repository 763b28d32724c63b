//! [`ClientRegistry`]: the clients a service made, by name, and what the admin endpoints
//! show of them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

use super::HttpClient;
use crate::resilience::breaker::{BreakerMetrics, CircuitBreaker, State};

/// The clients of one service, by name; cheap to clone, clones share the clients.
///
/// [`Context::client`](crate::service::Context::client) makes each client once and keeps
/// it here, where a live configuration change reaches it and `/admin/breakers` and
/// `/admin/clients` find it.
#[derive(Debug, Clone, Default)]
pub struct ClientRegistry {
    clients: Arc<Mutex<BTreeMap<String, HttpClient>>>,
}

impl ClientRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The client named `name`, if made.
    pub fn get(&self, name: &str) -> Option<HttpClient> {
        self.lock().get(name).cloned()
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
        let mut clients = self.lock();
        if let Some(client) = clients.get(name) {
            return Ok(client.clone());
        }
        let client = make()?;
        clients.insert(name.to_owned(), client.clone());
        Ok(client)
    }

    /// Every client, by name.
    pub fn all(&self) -> Vec<HttpClient> {
        self.lock().values().cloned().collect()
    }

    /// The names of the clients made.
    pub fn names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, HttpClient>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A circuit breaker as `GET /admin/breakers` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreakerStatus {
    /// The breaker's name: the client's.
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
    /// The service it calls.
    pub name: String,
    /// Its circuit breaker.
    pub breaker: BreakerStatus,
    /// The endpoints it balances over now.
    pub endpoints: Vec<EndpointStatus>,
}

impl ClientStatus {
    /// The status of `client`.
    pub fn of(client: &HttpClient) -> Self {
        let endpoints = client
            .endpoint_states()
            .into_iter()
            .map(|(address, state)| EndpointStatus {
                address,
                state: state.as_str(),
                ejected: !matches!(state, State::Closed | State::Disabled),
            })
            .collect();
        Self {
            name: client.name().to_owned(),
            breaker: BreakerStatus::of(&client.breaker()),
            endpoints,
        }
    }
}
