//! Benchmarks of chassis: shared fixtures for the criterion benches, the in-process and
//! loopback overhead measurements, and the plot of their ratios.
//!
//! - `cargo bench -p chassis-benches`: every criterion group (`--bench NAME` for one file);
//! - `cargo run --release -p chassis-benches --bin overhead`: bare axum against a chassis
//!   server over loopback, each in its own pinned process; `--plot FILE` draws the ratios;
//! - `cargo run --release -p chassis-benches --bin inprocess`: the in-process services timed
//!   interleaved, with ratios;
//! - `cargo run --release -p chassis-benches --bin allocs`: allocations per request;
//! - `cargo run --release -p chassis-benches --bin client`: the resilient client against a
//!   bare one, interleaved;
//! - `benches/instructions.sh`: instructions per request under callgrind.
//!
//! See `docs/benchmarks.md` for the results and what each number means.

pub mod cli;
pub mod criterion_results;
pub mod fixtures;
pub mod loadgen;
pub mod phases;
pub mod plot;
pub mod procfs;
pub mod raw_client;
pub mod report;
pub mod servers;
pub mod table;
