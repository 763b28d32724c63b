//! In-memory orders, with idempotency keys that never create a duplicate.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::keys::Keys;
use crate::model::{Order, PricedLine};
use chassis::server::Problem;

/// Orders by id, and idempotency keys to the order each one created.
#[derive(Debug)]
pub(crate) struct Store {
    next_id: AtomicU64,
    orders: Mutex<HashMap<String, Order>>,
    /// One cell per key: racing requests with the same key wait on the same creation.
    keys: Mutex<Keys>,
}

impl Store {
    /// A store whose idempotency keys live `ttl`, at most `max_keys` of them.
    pub(crate) fn new(ttl: std::time::Duration, max_keys: usize) -> Self {
        Self {
            next_id: AtomicU64::new(0),
            orders: Mutex::new(HashMap::new()),
            keys: Mutex::new(Keys::new(ttl, max_keys)),
        }
    }

    /// Creates an order from the lines `price` returns, once per idempotency key. Returns the
    /// order and whether this call created it.
    pub(crate) async fn create<F, Fut>(
        &self,
        key: Option<String>,
        price: F,
    ) -> Result<(Order, bool), Problem>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<PricedLine>, Problem>>,
    {
        let Some(key) = key else {
            return Ok((self.insert(price().await?), true));
        };
        let cell = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .cell(&key);
        let mut created = false;
        let order = cell
            .get_or_try_init(|| async {
                created = true;
                Ok::<_, Problem>(self.insert(price().await?))
            })
            .await?;
        Ok((order.clone(), created))
    }

    fn insert(&self, lines: Vec<PricedLine>) -> Order {
        let number = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let order = Order {
            id: format!("ord-{number:06}"),
            total_cents: lines.iter().map(|l| l.line_total_cents).sum(),
            lines,
        };
        self.orders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(order.id.clone(), order.clone());
        order
    }

    pub(crate) fn get(&self, id: &str) -> Option<Order> {
        self.orders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }
}
