//! Behaviour tests of `chassis::resilience`: the circuit breaker (Resilience4j's state machine
//! cases and a model-based property test), retries with budget, deadlines, the bulkhead.
//!
//! One test binary (faster to link) whose test names all start with `resilience::`, so
//! `cargo test -p chassis resilience` selects exactly these plus the module's unit tests.

#![allow(clippy::unwrap_used)]

#[path = "."]
mod resilience {
    mod breaker;
    mod breaker_model;
    mod bulkhead;
    mod deadline;
    mod retry;
}
