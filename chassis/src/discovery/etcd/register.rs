//! Registering an instance: a lease, the key on it, keep-alive, re-registration, revocation.

use std::time::Duration;

use etcd_client::PutOptions;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::value::{encode, instance_key, is_segment};
use super::{EtcdDiscovery, EtcdError};
use crate::discovery::endpoints::backoff;
use crate::discovery::error::runtime;
use crate::discovery::{BoxFuture, Deregister, DiscoveryError, Instance, Registration};

/// What the registration task reports.
#[derive(Debug, Clone, Copy, Default)]
struct Status {
    /// Registration attempts so far.
    attempts: u64,
    /// The lease the key is on, while it is kept alive.
    lease: Option<i64>,
}

/// Starts registering `instance`; waits for the first attempt (bounded), then returns.
pub(super) async fn register(
    etcd: EtcdDiscovery,
    instance: Instance,
) -> Result<Registration, DiscoveryError> {
    if !is_segment(&instance.name) {
        return Err(DiscoveryError::InvalidName(instance.name));
    }
    if !is_segment(&instance.instance_id) {
        return Err(DiscoveryError::InvalidName(instance.instance_id));
    }
    let handle = runtime()?;
    let key = instance_key(&etcd.config().prefix, &instance);
    let value = encode(&instance);
    let cancel = CancellationToken::new();
    let (status_tx, mut status) = watch::channel(Status::default());
    let first_attempt = etcd.config().connect_timeout + etcd.config().request_timeout * 2;
    let task = handle.spawn(keep_registered(
        etcd.clone(),
        key.clone(),
        value,
        cancel.clone(),
        status_tx,
    ));
    let registered =
        match tokio::time::timeout(first_attempt, status.wait_for(|s| s.attempts > 0)).await {
            Ok(Ok(status)) => status.lease.is_some(),
            _ => false,
        };
    if !registered {
        tracing::warn!(%key, "discovery: etcd unreachable; registering in the background");
    }
    Ok(Registration::new(EtcdRegistration {
        task: Some(task),
        cancel,
        status,
        deadline: first_attempt,
    }))
}

/// Registers, keeps the lease alive, registers again on a new lease when the old one is
/// lost; on cancellation revokes the lease.
async fn keep_registered(
    etcd: EtcdDiscovery,
    key: String,
    value: String,
    cancel: CancellationToken,
    status: watch::Sender<Status>,
) -> Result<(), DiscoveryError> {
    let ttl = etcd.config().lease_ttl;
    let (retry_min, retry_max) = (
        Duration::from_millis(100),
        (ttl / 2).min(Duration::from_secs(5)),
    );
    let mut failures = 0;
    // A lease that may still hold the key after a broken keep-alive: revoked once the key
    // is on a new lease, or on the way out.
    let mut stale: Option<i64> = None;
    loop {
        let attempt = put_on_new_lease(&etcd, &key, &value).await;
        status.send_modify(|s| s.attempts += 1);
        match attempt {
            Ok(lease) => {
                failures = 0;
                tracing::info!(%key, lease, ttl = ?ttl, "discovery: registered in etcd");
                status.send_modify(|s| s.lease = Some(lease));
                if let Some(old) = stale.take() {
                    let _ = revoke(&etcd, old).await;
                }
                let lost = keep_alive(&etcd, lease, &cancel).await;
                status.send_modify(|s| s.lease = None);
                let Err(reason) = lost else {
                    return revoke(&etcd, lease)
                        .await
                        .map_err(|e| DiscoveryError::registry("etcd", e));
                };
                metrics::counter!("chassis_discovery_errors_total", "backend" => "etcd")
                    .increment(1);
                tracing::warn!(%key, lease, %reason, "discovery: etcd lease keep-alive lost; registering again");
                stale = Some(lease);
            }
            Err(error) => {
                failures += 1;
                metrics::counter!("chassis_discovery_errors_total", "backend" => "etcd")
                    .increment(1);
                if failures == 1 {
                    tracing::warn!(%key, %error, "discovery: registering in etcd failed; retrying");
                } else {
                    tracing::debug!(%key, %error, "discovery: registering in etcd failed again");
                }
            }
        }
        let wait = if failures == 0 {
            Duration::ZERO
        } else {
            backoff(failures, retry_min, retry_max)
        };
        tokio::select! {
            biased;
            () = cancel.cancelled() => {
                return match stale {
                    Some(lease) => revoke(&etcd, lease).await.map_err(|e| DiscoveryError::registry("etcd", e)),
                    None => Ok(()),
                };
            }
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Grants a lease and puts the key on it; the lease id.
async fn put_on_new_lease(etcd: &EtcdDiscovery, key: &str, value: &str) -> Result<i64, EtcdError> {
    let mut client = etcd.client().await?;
    let ttl = etcd.config().lease_ttl;
    let seconds =
        i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX) + i64::from(ttl.subsec_nanos() > 0);
    let lease = etcd.call(client.lease_grant(seconds, None)).await?.id();
    let options = PutOptions::new().with_lease(lease);
    if let Err(error) = etcd.call(client.put(key, value, Some(options))).await {
        let _ = revoke(etcd, lease).await;
        return Err(error);
    }
    Ok(lease)
}

/// Keeps `lease` alive every third of the TTL until cancelled (`Ok`) or lost (`Err`).
async fn keep_alive(
    etcd: &EtcdDiscovery,
    lease: i64,
    cancel: &CancellationToken,
) -> Result<(), EtcdError> {
    let ttl = etcd.config().lease_ttl;
    let mut client = etcd.client().await?;
    let (mut keeper, mut stream) = etcd.call(client.lease_keep_alive(lease)).await?;
    let mut ticks = tokio::time::interval(ttl / 3);
    let mut answered = Instant::now();
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Ok(()),
            _ = ticks.tick() => {
                if answered.elapsed() >= ttl {
                    return Err(EtcdError::Stream("no keep-alive answer within the lease TTL"));
                }
                keeper.keep_alive().await?;
            }
            message = stream.message() => match message? {
                Some(answer) if answer.ttl() > 0 => answered = Instant::now(),
                Some(_) => return Err(EtcdError::Stream("the lease expired")),
                None => return Err(EtcdError::Stream("the keep-alive stream closed")),
            },
        }
    }
}

/// Revokes `lease`, which deletes the keys on it.
async fn revoke(etcd: &EtcdDiscovery, lease: i64) -> Result<(), EtcdError> {
    let mut client = etcd.client().await?;
    match etcd.call(client.lease_revoke(lease)).await {
        Ok(_) => Ok(()),
        // Already gone (expired meanwhile): nothing left to delete.
        Err(EtcdError::Client(etcd_client::Error::GRpcStatus(status)))
            if status.message().contains("requested lease not found") =>
        {
            Ok(())
        }
        Err(error) => {
            tracing::warn!(lease, %error, "discovery: revoking the etcd lease failed; the key expires with it");
            Err(error)
        }
    }
}

/// The live registration: dropping it aborts the keep-alive without revoking.
#[derive(Debug)]
struct EtcdRegistration {
    task: Option<JoinHandle<Result<(), DiscoveryError>>>,
    cancel: CancellationToken,
    status: watch::Receiver<Status>,
    deadline: Duration,
}

impl Deregister for EtcdRegistration {
    fn deregister(mut self: Box<Self>) -> BoxFuture<'static, Result<(), DiscoveryError>> {
        self.cancel.cancel();
        let task = self.task.take();
        let deadline = self.deadline;
        Box::pin(async move {
            let Some(task) = task else { return Ok(()) };
            let abort = task.abort_handle();
            match tokio::time::timeout(deadline, task).await {
                Ok(Ok(result)) => result,
                Ok(Err(join)) => Err(DiscoveryError::registry("etcd", join)),
                Err(_) => {
                    abort.abort();
                    Err(DiscoveryError::registry(
                        "etcd",
                        format!("deregistering took over {deadline:?}"),
                    ))
                }
            }
        })
    }

    fn is_registered(&self) -> bool {
        self.status.borrow().lease.is_some()
    }
}

impl Drop for EtcdRegistration {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
