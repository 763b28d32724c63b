//! chassis: a microservice chassis.

pub mod config;
pub mod resilience;
