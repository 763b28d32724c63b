//! chassis: a microservice chassis.

pub mod config;
pub mod server;
pub mod shutdown;
pub mod telemetry;
