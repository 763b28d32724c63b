//! In-memory orders, with idempotency keys that never create a duplicate.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chassis::server::Problem;
use tokio::sync::OnceCell;

use crate::model::{Order, PricedLine};

/// Orders by id, and idempotency keys to the order each one created.
#[derive(Debug, Default)]
pub(crate) struct Store {
    next_id: AtomicU64,
    orders: Mutex<HashMap<String, Order>>,
    /// One cell per key: racing requests with the same key wait on the same creation.
    keys: Mutex<HashMap<String, Arc<OnceCell<Order>>>>,
}

impl Store {
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
        let cell = {
            let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(keys.entry(key).or_default())
        };
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
