//! Orders, their lines and their validation.

use axum::http::StatusCode;
use chassis::server::Problem;
use serde::{Deserialize, Serialize};

/// Most of one item in one line.
const MAX_QUANTITY: u32 = 100;

/// `POST /orders` body.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// What to buy.
    pub lines: Vec<Line>,
}

/// One line of an order request.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// Catalog item id.
    pub item_id: String,
    /// How many.
    pub quantity: u32,
}

impl OrderRequest {
    /// Checks the request's shape; pricing checks the items.
    pub fn validate(&self, max_lines: usize) -> Result<(), Problem> {
        let bad =
            |detail: String| Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY).detail(detail));
        if self.lines.is_empty() {
            return bad("an order needs at least one line".to_owned());
        }
        if self.lines.len() > max_lines {
            return bad(format!("an order has at most {max_lines} lines"));
        }
        for line in &self.lines {
            if line.item_id.is_empty() || line.item_id.len() > 64 {
                return bad("item_id must have 1 to 64 characters".to_owned());
            }
            if line.quantity == 0 || line.quantity > MAX_QUANTITY {
                return bad(format!("quantity must be from 1 to {MAX_QUANTITY}"));
            }
        }
        Ok(())
    }
}

/// An item as the catalog answers it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Item {
    pub(crate) name: String,
    pub(crate) price_cents: u64,
    pub(crate) currency: String,
}

/// A priced line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PricedLine {
    /// Catalog item id.
    pub item_id: String,
    /// Item name at the time of the order.
    pub name: String,
    /// How many.
    pub quantity: u32,
    /// Price of one, in cents.
    pub unit_price_cents: u64,
    /// `quantity x unit_price_cents`.
    pub line_total_cents: u64,
    /// ISO currency code.
    pub currency: String,
}

impl PricedLine {
    pub(crate) fn new(line: &Line, item: Item) -> Self {
        Self {
            item_id: line.item_id.clone(),
            name: item.name,
            quantity: line.quantity,
            unit_price_cents: item.price_cents,
            line_total_cents: item.price_cents.saturating_mul(u64::from(line.quantity)),
            currency: item.currency,
        }
    }
}

/// A placed order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Order {
    /// Order id.
    pub id: String,
    /// The priced lines.
    pub lines: Vec<PricedLine>,
    /// Sum of the lines, in cents.
    pub total_cents: u64,
}
