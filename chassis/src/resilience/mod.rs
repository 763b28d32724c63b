//! Resilience policies for outbound calls: retries with a budget, timeouts and deadlines,
//! bulkheads, and the circuit breaker.
//!
//! ```
//! use std::time::Duration;
//! use chassis::resilience::{
//!     bulkhead::BulkheadLayer, deadline::PropagateDeadlineLayer, retry::RetryLayer,
//!     timeout::TimeoutLayer,
//! };
//! use tower::ServiceBuilder;
//!
//! let stack = ServiceBuilder::new()
//!     .layer(TimeoutLayer::overall(Duration::from_secs(2)))
//!     .layer(RetryLayer::builder("catalog").build()?)
//!     .layer(TimeoutLayer::per_attempt(Duration::from_millis(500)))
//!     .layer(PropagateDeadlineLayer::new())
//!     .layer(BulkheadLayer::new("catalog", 64));
//! # let _ = stack;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Why
//!
//! Calls between services fail, hang and storm. Each policy here is a `tower::Layer` usable
//! alone; together, in the order above, they make a call that gives up on time, retries only
//! what is safe to retry and never more than the budget allows, and cannot pile up unbounded
//! concurrency on a slow dependency.
//!
//! # Order
//!
//! From the outside in: **overall timeout > retry > per-attempt timeout > deadline
//! propagation > bulkhead > transport**. The overall timeout bounds the whole call including
//! backoff sleeps; the retry layer sees the tightest deadline (the inbound one, the overall
//! timeout's) and starts no attempt that cannot finish before it; each attempt has its own
//! timeout; deadline propagation writes the remaining budget into `x-request-timeout-ms` for
//! the callee and fails fast when nothing is left; the bulkhead limits concurrent attempts.
//!
//! Errors are small leaf types ([`timeout::Elapsed`], [`deadline::DeadlineExceeded`],
//! [`bulkhead::BulkheadFull`]) boxed as `tower::BoxError` between layers; classify them by
//! walking `source()`, for example with [`timeout::is_timeout`].
//!
//! The [`breaker`] stops calling a dependency that keeps failing (closed / open / half-open,
//! lock-free on the closed path); put one per client outside the retry layer, so a retried
//! call counts once, and one per endpoint inside it.
//!
//! Settings for `clients.<name>` live in [`config`].

pub mod blame;
pub mod breaker;
pub mod bulkhead;
pub mod config;
pub mod deadline;
pub mod retry;
pub mod timeout;
