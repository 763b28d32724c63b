//! [`ReloadHandle`]: ask a running service to reload, and read what it runs with.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use super::{ReloadReport, ReloadTrigger};
use crate::config::EffectiveConfig;

/// A request for a reload, answered with its report when someone waits for it.
#[derive(Debug)]
pub(crate) struct ReloadRequest {
    pub(crate) trigger: ReloadTrigger,
    pub(crate) reply: Option<oneshot::Sender<ReloadReport>>,
}

/// Requests queued at most; a trigger finding the queue full is dropped, since the reload
/// queued already reads the same sources.
const QUEUE: usize = 8;

/// The handle, the receiving end of its requests and the sender of the effective
/// configuration.
pub(crate) fn reload_channel(
    effective: EffectiveConfig,
    files: Vec<std::path::PathBuf>,
) -> (
    ReloadHandle,
    mpsc::Receiver<ReloadRequest>,
    watch::Sender<Arc<EffectiveConfig>>,
) {
    let (requests, receiver) = mpsc::channel(QUEUE);
    let (effective_tx, effective_rx) = watch::channel(Arc::new(effective));
    let handle = ReloadHandle {
        requests,
        effective: effective_rx,
        files: Arc::from(files),
    };
    (handle, receiver, effective_tx)
}

/// Asks a running service to load its configuration again, and reads the configuration it
/// runs with; cheap to clone.
///
/// ```no_run
/// # async fn demo(handle: chassis::service::ServiceHandle) {
/// let reload = handle.reload_handle();
/// if let Some(report) = reload.reload().await {
///     println!("{:?}: changed {:?}", report.result, report.changed);
/// }
/// let port = &reload.effective().keys["server.port"];
/// println!("server.port = {} from {}", port.value, port.source);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ReloadHandle {
    requests: mpsc::Sender<ReloadRequest>,
    effective: watch::Receiver<Arc<EffectiveConfig>>,
    files: Arc<[std::path::PathBuf]>,
}

impl ReloadHandle {
    /// Reloads every source now and waits for the outcome; `None` once the service has
    /// stopped reloading (it is shutting down).
    pub async fn reload(&self) -> Option<ReloadReport> {
        self.reload_by(ReloadTrigger::Code).await
    }

    /// [`reload`](Self::reload), naming what asked.
    pub(crate) async fn reload_by(&self, trigger: ReloadTrigger) -> Option<ReloadReport> {
        let (reply, answer) = oneshot::channel();
        let request = ReloadRequest {
            trigger,
            reply: Some(reply),
        };
        self.requests.send(request).await.ok()?;
        answer.await.ok()
    }

    /// The configuration in force: every key with its value and source, secrets hidden.
    pub fn effective(&self) -> Arc<EffectiveConfig> {
        Arc::clone(&self.effective.borrow())
    }

    /// The configuration files read.
    pub(crate) fn files(&self) -> Vec<std::path::PathBuf> {
        self.files.to_vec()
    }

    /// A sender of triggers that nobody waits on (files, signals, etcd).
    pub(crate) fn trigger(&self, trigger: ReloadTrigger) {
        let request = ReloadRequest {
            trigger,
            reply: None,
        };
        if self.requests.try_send(request).is_err() {
            tracing::debug!(?trigger, "a reload is queued already");
        }
    }
}
