//! Benchmarks of chassis.
