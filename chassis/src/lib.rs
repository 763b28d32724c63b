//! chassis: a microservice chassis.

pub mod config;
pub mod health;
pub mod server;
pub mod shutdown;
pub mod service;
pub mod telemetry;
