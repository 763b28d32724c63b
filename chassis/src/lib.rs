//! chassis: a microservice chassis.

pub mod config;
