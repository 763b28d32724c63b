//! Idempotency keys: each remembers the order it created, for a bounded time and number.
//!
//! The IETF draft "The Idempotency-Key HTTP Header Field" lets a server expire keys (it
//! suggests 24 hours) and bound what it keeps: a caller cannot make the service hold keys
//! forever. Keys are refused beyond [`MAX_KEY_LEN`] bytes, expire after the configured time,
//! and when the store is full the oldest go first.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::model::Order;

/// Longest key accepted, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 255;

/// The keys and, in arrival order, when each came.
#[derive(Debug)]
pub(crate) struct Keys {
    cells: HashMap<String, Arc<OnceCell<Order>>>,
    arrivals: VecDeque<(Instant, String)>,
    ttl: Duration,
    max: usize,
}

impl Keys {
    /// Keys kept for `ttl`, at most `max` of them.
    pub(crate) fn new(ttl: Duration, max: usize) -> Self {
        Self {
            cells: HashMap::new(),
            arrivals: VecDeque::new(),
            ttl,
            max: max.max(1),
        }
    }

    /// The cell of `key`, new when the key is unknown or expired.
    pub(crate) fn cell(&mut self, key: &str) -> Arc<OnceCell<Order>> {
        let now = Instant::now();
        self.forget_expired(now);
        if let Some(cell) = self.cells.get(key) {
            return Arc::clone(cell);
        }
        while self.cells.len() >= self.max {
            let Some((_, oldest)) = self.arrivals.pop_front() else {
                break;
            };
            self.cells.remove(&oldest);
        }
        let cell = Arc::new(OnceCell::new());
        self.cells.insert(key.to_owned(), Arc::clone(&cell));
        self.arrivals.push_back((now, key.to_owned()));
        cell
    }

    /// How many keys are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.cells.len()
    }

    fn forget_expired(&mut self, now: Instant) {
        while let Some((at, _)) = self.arrivals.front() {
            if now.saturating_duration_since(*at) < self.ttl {
                break;
            }
            if let Some((_, key)) = self.arrivals.pop_front() {
                self.cells.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn keys_expire_and_the_oldest_go_first_when_full() {
        let mut keys = Keys::new(Duration::from_mins(1), 3);
        let a = keys.cell("a");
        assert!(
            Arc::ptr_eq(&a, &keys.cell("a")),
            "a known key is the same cell"
        );
        keys.cell("b");
        keys.cell("c");
        keys.cell("d");
        assert_eq!(keys.len(), 3);
        assert!(!Arc::ptr_eq(&a, &keys.cell("a")), "the oldest went first");
        tokio::time::advance(Duration::from_mins(1)).await;
        keys.cell("e");
        assert_eq!(keys.len(), 1, "all but the new one expired");
    }
}
