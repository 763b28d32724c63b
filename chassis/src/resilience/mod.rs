//! Resilience policies for outbound calls, each a tower `Layer` + `Service` usable alone.
//!
//! - [`breaker`]: a circuit breaker that stops calling a dependency that keeps failing.
//!
//! All of them are configured from `clients.<name>` in the service configuration.

pub mod breaker;
