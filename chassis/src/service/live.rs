//! The live configuration of a running service: one task that reloads on every trigger
//! (files, SIGHUP, etcd, the admin endpoint) and hands each valid change to the parts that
//! take it live.

use std::sync::Arc;

use metrics::Counter;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::client::ClientRegistry;
use crate::config::reload::{Change, ReloadRequest, ReloadResult, Reloader};
use crate::config::{EffectiveConfig, Settings};
use crate::discovery::Registry;
use crate::resilience::config::ClientResilienceConfig;
use crate::server::FaultsHandle;
use crate::telemetry::LogHandle;

/// Everything a reload reaches.
pub(super) struct LiveParts<C> {
    pub(super) reloader: Reloader,
    pub(super) requests: mpsc::Receiver<ReloadRequest>,
    pub(super) effective: watch::Sender<Arc<EffectiveConfig>>,
    pub(super) settings: watch::Sender<Arc<Settings>>,
    pub(super) config: watch::Sender<Arc<C>>,
    pub(super) log: Option<LogHandle>,
    pub(super) faults: Option<FaultsHandle>,
    pub(super) clients: ClientRegistry,
    pub(super) registry: Registry,
}

/// `chassis_config_reloads_total{result}`, registered at start (in the service's scope).
pub(super) struct ReloadCounters([Counter; ReloadResult::ALL.len()]);

impl ReloadCounters {
    pub(super) fn new() -> Self {
        Self(ReloadResult::ALL.map(
            |result| metrics::counter!("chassis_config_reloads_total", "result" => result.as_str()),
        ))
    }

    fn count(&self, result: ReloadResult) {
        if let Some(index) = ReloadResult::ALL.iter().position(|r| *r == result) {
            self.0[index].increment(1);
        }
    }
}

/// Serves reload requests one at a time until `stop`.
pub(super) async fn serve_reloads<C>(
    mut parts: LiveParts<C>,
    counters: ReloadCounters,
    stop: CancellationToken,
) where
    C: serde::de::DeserializeOwned + Send + Sync + 'static,
{
    loop {
        let request = tokio::select! {
            biased;
            () = stop.cancelled() => return,
            request = parts.requests.recv() => match request {
                Some(request) => request,
                None => return,
            },
        };
        // Off the runtime's threads: loading reads files.
        let (reloader, (report, change)) = {
            let mut reloader = parts.reloader;
            let trigger = request.trigger;
            match tokio::task::spawn_blocking(move || {
                let outcome = reloader.reload::<C>(trigger);
                (reloader, outcome)
            })
            .await
            {
                Ok(done) => done,
                Err(error) => {
                    tracing::error!(%error, "the configuration reload failed; reloads stop");
                    return;
                }
            }
        };
        parts.reloader = reloader;
        if let Some((change, effective)) = change {
            apply(&parts, &change);
            parts.effective.send_replace(Arc::new(effective));
            parts.settings.send_replace(Arc::clone(&change.settings));
            if let Some(app) = change.app {
                parts.config.send_replace(app);
            }
        }
        report.log();
        counters.count(report.result);
        if let Some(reply) = request.reply {
            let _ = reply.send(report);
        }
    }
}

/// Hands the live keys of `change` to the parts that use them. The configuration was
/// validated whole, these checks included, so nothing here is expected to fail; what does
/// is logged.
fn apply<C>(parts: &LiveParts<C>, change: &Change<C>) {
    let settings = &change.settings;
    if change.touches("telemetry.log.level") {
        apply_log_level(parts.log.as_ref(), &settings.telemetry.log.level);
    }
    if let Some(faults) = &parts.faults
        && change.touches("faults")
    {
        faults.set(&settings.faults);
        tracing::warn!(faults = ?settings.faults, "fault injection changed by configuration");
    }
    for client in parts.clients.all() {
        if let Some(config) = client_change(change, client.name(), client.config())
            && let Err(error) = client.reconfigure(&config)
        {
            tracing::error!(client = client.name(), %error, "client not reconfigured");
        }
    }
    #[cfg(feature = "grpc")]
    for channel in parts.clients.channels() {
        if let Some(config) = client_change(change, channel.name(), channel.config())
            && let Err(error) = channel.reconfigure(&config)
        {
            tracing::error!(channel = channel.name(), %error, "gRPC channel not reconfigured");
        }
    }
    if let Some(statics) = parts.registry.static_discovery()
        && change.touches("discovery.static")
        && let Err(error) = statics.update(&settings.discovery.static_endpoints)
    {
        tracing::error!(%error, "static discovery lists not updated");
    }
}

/// The new `clients.<name>` when `change` touches it, with what needs a restart (`url`,
/// `tls`, `http2`) kept as `running` has it.
fn client_change<C>(
    change: &Change<C>,
    name: &str,
    running: ClientResilienceConfig,
) -> Option<ClientResilienceConfig> {
    let section = format!("clients.{}", name.replace('-', "_"));
    if !change.touches(&section) {
        return None;
    }
    let mut config = change.settings.client(name).cloned().unwrap_or_default();
    config.url = running.url;
    config.tls = running.tls;
    config.http2 = running.http2;
    Some(config)
}

fn apply_log_level(log: Option<&LogHandle>, level: &str) {
    let Some(log) = log else {
        tracing::warn!("telemetry.log.level changed, but another subscriber owns the logs");
        return;
    };
    if std::env::var_os("RUST_LOG").is_some_and(|v| !v.is_empty()) {
        tracing::warn!("telemetry.log.level changed, but RUST_LOG is set and wins");
        return;
    }
    if let Err(error) = log.set_level(level) {
        tracing::error!(%error, "log filter not changed");
    }
}
