//! Configuration from an etcd prefix (feature `etcd`): read at start-up, then watched.
//!
//! Every key under `reload.etcd_prefix` is a configuration key: what follows the prefix,
//! with `/` or `.` between levels (`/config/orders/clients/catalog/timeout` and
//! `/config/orders/clients.catalog.timeout` both set `clients.catalog.timeout`), its value
//! read as an environment variable's is (a string; lists comma-separated). The source sits
//! above the files and below the environment.
//!
//! The prefix is listed once, then watched from the listing's revision; a broken watch
//! resumes from the last revision seen (listing again when it was compacted), and while
//! etcd is unreachable the last values read stay. Each change triggers a reload, which
//! reads the values as they are by then.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use etcd_client::{Client, ConnectOptions, EventType, GetOptions, WatchOptions};
use tokio_util::sync::CancellationToken;

use super::{ReloadHandle, ReloadTrigger};
use crate::config::Settings;

/// Retry delays after consecutive failures: doubling from the first, at most the second.
const RETRY: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

/// One value: `(dotted key, etcd key, value)`.
pub(crate) type EtcdValue = (String, String, String);

/// The values under the prefix as last read, shared with the reloads.
#[derive(Debug, Clone, Default)]
pub(crate) struct EtcdValues(Arc<Mutex<BTreeMap<String, EtcdValue>>>);

impl EtcdValues {
    /// The values now, for a load.
    pub(crate) fn snapshot(&self) -> Vec<EtcdValue> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, EtcdValue>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where the configuration lives in etcd, and how to reach it.
#[derive(Debug, Clone)]
pub(crate) struct EtcdSource {
    prefix: String,
    endpoints: Vec<String>,
    connect_timeout: Duration,
    request_timeout: Duration,
}

/// Reading the prefix failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EtcdSourceError {
    #[error(transparent)]
    Client(#[from] etcd_client::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the watch stream ended")]
    Ended,
}

impl EtcdSource {
    /// The source `settings` configure, if any.
    pub(crate) fn from_settings(settings: &Settings) -> Option<Self> {
        let prefix = settings.reload.etcd_prefix.clone()?;
        let etcd = &settings.discovery.etcd;
        let endpoints = if settings.reload.etcd_endpoints.is_empty() {
            etcd.endpoints.clone()
        } else {
            settings.reload.etcd_endpoints.clone()
        };
        Some(Self {
            prefix,
            endpoints,
            connect_timeout: etcd.connect_timeout,
            request_timeout: etcd.request_timeout,
        })
    }

    /// The prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    async fn client(&self) -> Result<Client, EtcdSourceError> {
        let options = ConnectOptions::new()
            .with_connect_timeout(self.connect_timeout)
            .with_keep_alive(Duration::from_secs(5), self.request_timeout);
        let connect = Client::connect(&self.endpoints, Some(options));
        self.bounded(connect).await
    }

    async fn bounded<T>(
        &self,
        request: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, EtcdSourceError> {
        match tokio::time::timeout(self.request_timeout, request).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(EtcdSourceError::Timeout(self.request_timeout)),
        }
    }

    /// Lists the prefix into `values`; the revision of the listing.
    pub(crate) async fn read(&self, values: &EtcdValues) -> Result<i64, EtcdSourceError> {
        let mut client = self.client().await?;
        let listing = self
            .bounded(client.get(self.prefix.as_str(), Some(GetOptions::new().with_prefix())))
            .await?;
        let mut read = BTreeMap::new();
        for kv in listing.kvs() {
            if let Some(value) = self.value(kv.key(), kv.value()) {
                read.insert(value.1.clone(), value);
            }
        }
        *values.lock() = read;
        Ok(listing
            .header()
            .map_or(0, etcd_client::ResponseHeader::revision))
    }

    /// Follows the prefix from `revision` until `stop`, keeping `values` current and
    /// triggering a reload at each change.
    pub(crate) async fn follow(
        self,
        values: EtcdValues,
        mut revision: Option<i64>,
        handle: ReloadHandle,
        stop: CancellationToken,
    ) {
        let mut failures = 0_u32;
        loop {
            let session = self.session(&values, &mut revision, &handle);
            let error = tokio::select! {
                biased;
                () = stop.cancelled() => return,
                ended = session => ended,
            };
            failures = failures.saturating_add(1);
            if failures == 1 {
                tracing::warn!(prefix = %self.prefix, %error, "configuration from etcd: watch broken; keeping the last values read");
            }
            let wait = crate::discovery::endpoints::backoff(failures, RETRY.0, RETRY.1);
            tokio::select! {
                biased;
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Lists when needed, then watches until the watch breaks.
    async fn session(
        &self,
        values: &EtcdValues,
        revision: &mut Option<i64>,
        handle: &ReloadHandle,
    ) -> EtcdSourceError {
        let start = match *revision {
            Some(seen) => seen + 1,
            None => match self.read(values).await {
                Ok(listed) => {
                    *revision = Some(listed);
                    handle.trigger(ReloadTrigger::Etcd);
                    listed + 1
                }
                Err(error) => return error,
            },
        };
        let mut client = match self.client().await {
            Ok(client) => client,
            Err(error) => return error,
        };
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(start)
            .with_progress_notify();
        let mut stream = match self
            .bounded(client.watch(self.prefix.as_str(), Some(options)))
            .await
        {
            Ok(stream) => stream,
            Err(error) => return error,
        };
        loop {
            let response = match stream.message().await {
                Ok(Some(response)) => response,
                Ok(None) => return EtcdSourceError::Ended,
                Err(error) => return error.into(),
            };
            if response.canceled() {
                // Compacted past the revision (or canceled): list again.
                *revision = None;
                return EtcdSourceError::Ended;
            }
            let mut changed = false;
            for event in response.events() {
                let Some(kv) = event.kv() else { continue };
                let key = String::from_utf8_lossy(kv.key()).into_owned();
                changed |= match event.event_type() {
                    EventType::Put => self.value(kv.key(), kv.value()).is_some_and(|value| {
                        values.lock().insert(key, value.clone()) != Some(value)
                    }),
                    EventType::Delete => values.lock().remove(&key).is_some(),
                };
                *revision = Some(revision.unwrap_or(0).max(kv.mod_revision()));
            }
            if response.events().is_empty()
                && let Some(header) = response.header()
            {
                *revision = Some(revision.unwrap_or(0).max(header.revision()));
            }
            if changed {
                handle.trigger(ReloadTrigger::Etcd);
            }
        }
    }

    /// The configuration value of an etcd key, unless it is not one (not below the prefix,
    /// no key after it, or not UTF-8).
    fn value(&self, key: &[u8], value: &[u8]) -> Option<EtcdValue> {
        let etcd_key = std::str::from_utf8(key).ok()?;
        let dotted = dotted_key(&self.prefix, etcd_key)?;
        let Ok(value) = std::str::from_utf8(value) else {
            tracing::warn!(
                key = etcd_key,
                "configuration from etcd: ignoring a value that is not UTF-8"
            );
            return None;
        };
        Some((dotted, etcd_key.to_owned(), value.to_owned()))
    }
}

/// The dotted configuration key of `etcd_key` under `prefix`.
fn dotted_key(prefix: &str, etcd_key: &str) -> Option<String> {
    let rest = etcd_key.strip_prefix(prefix)?;
    let parts: Vec<&str> = rest
        .split(['/', '.'])
        .filter(|part| !part.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join("."))
}

#[cfg(test)]
mod tests {
    use super::dotted_key;

    #[test]
    fn etcd_keys_become_dotted_keys() {
        let prefix = "/config/orders/";
        assert_eq!(
            dotted_key(prefix, "/config/orders/clients/catalog/timeout").as_deref(),
            Some("clients.catalog.timeout")
        );
        assert_eq!(
            dotted_key(prefix, "/config/orders/clients.catalog.timeout").as_deref(),
            Some("clients.catalog.timeout")
        );
        assert_eq!(
            dotted_key("/config/orders", "/config/orders/a/b").as_deref(),
            Some("a.b")
        );
        assert_eq!(dotted_key(prefix, "/config/orders/"), None);
        assert_eq!(dotted_key(prefix, "/other/x"), None);
    }
}
