//! chassis: a microservice chassis.

pub mod client;
pub mod config;
pub mod discovery;
pub mod health;
pub mod resilience;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod telemetry;

pub use chassis_macros::service;

#[doc(hidden)]
pub mod __private;
