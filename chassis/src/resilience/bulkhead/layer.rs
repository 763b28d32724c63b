use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use metrics::Counter;
use tokio::sync::Semaphore;
use tower::Layer;

use super::{Bulkhead, BulkheadRejection};
use crate::resilience::config::BulkheadConfig;

/// State shared by every service of one bulkhead.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) semaphore: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_queue: usize,
    pub(crate) max_wait: Duration,
    queue_full: Counter,
    wait_timeout: Counter,
}

impl Shared {
    /// Takes a place in the wait queue, or returns `false` when it is full.
    pub(crate) fn enter_queue(&self) -> bool {
        self.waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_queue).then_some(n + 1)
            })
            .is_ok()
    }

    pub(crate) fn leave_queue(&self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
    }

    pub(crate) fn rejected(&self, reason: BulkheadRejection) {
        match reason {
            BulkheadRejection::QueueFull => self.queue_full.increment(1),
            BulkheadRejection::WaitTimeout => self.wait_timeout.increment(1),
        }
    }
}

/// Limits concurrent calls with a bounded wait queue; see the [module docs](super).
///
/// Every service made by one layer (and its clones) shares the same permits.
#[derive(Debug, Clone)]
#[must_use]
pub struct BulkheadLayer {
    shared: Arc<Shared>,
}

impl BulkheadLayer {
    /// A bulkhead of `max_concurrent` permits and no wait queue.
    pub fn new(client: impl Into<String>, max_concurrent: usize) -> Self {
        Self::builder(client).max_concurrent(max_concurrent).build()
    }

    /// A bulkhead from `clients.<name>.bulkhead` settings.
    pub fn from_config(client: impl Into<String>, config: &BulkheadConfig) -> Self {
        Self::builder(client)
            .max_concurrent(config.max_concurrent)
            .max_queue(config.max_queue)
            .max_wait(config.max_wait)
            .build()
    }

    /// A builder for a bulkhead of client `client` (the metric label).
    pub fn builder(client: impl Into<String>) -> BulkheadBuilder {
        let defaults = BulkheadConfig::default();
        BulkheadBuilder {
            client: client.into(),
            max_concurrent: defaults.max_concurrent,
            max_queue: 0,
            max_wait: Duration::ZERO,
        }
    }

    /// Permits free right now.
    pub fn available_permits(&self) -> usize {
        self.shared.semaphore.available_permits()
    }

    /// Calls waiting for a permit right now.
    pub fn queued(&self) -> usize {
        self.shared.waiting.load(Ordering::Acquire)
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = Bulkhead<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Bulkhead::new(inner, Arc::clone(&self.shared))
    }
}

/// Builds a [`BulkheadLayer`].
#[derive(Debug, Clone)]
#[must_use]
pub struct BulkheadBuilder {
    client: String,
    max_concurrent: usize,
    max_queue: usize,
    max_wait: Duration,
}

impl BulkheadBuilder {
    /// Calls allowed at once (at least 1).
    pub const fn max_concurrent(mut self, max_concurrent: usize) -> Self {
        self.max_concurrent = max_concurrent;
        self
    }

    /// Calls that may wait for a permit; more are rejected with `QueueFull` (0: no queue).
    pub const fn max_queue(mut self, max_queue: usize) -> Self {
        self.max_queue = max_queue;
        self
    }

    /// How long a queued call waits before it is rejected with `WaitTimeout`.
    pub const fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// The layer; its metric handles are registered now.
    pub fn build(self) -> BulkheadLayer {
        let permits = self.max_concurrent.clamp(1, Semaphore::MAX_PERMITS);
        let counter = |reason: BulkheadRejection| {
            metrics::counter!(
                "chassis_bulkhead_rejected_total",
                "client" => self.client.clone(),
                "reason" => reason.as_str()
            )
        };
        BulkheadLayer {
            shared: Arc::new(Shared {
                semaphore: Arc::new(Semaphore::new(permits)),
                waiting: AtomicUsize::new(0),
                max_queue: self.max_queue,
                max_wait: self.max_wait,
                queue_full: counter(BulkheadRejection::QueueFull),
                wait_timeout: counter(BulkheadRejection::WaitTimeout),
            }),
        }
    }
}
