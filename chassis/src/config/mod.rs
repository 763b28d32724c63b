//! Layered, typed configuration.

pub mod duration;
