//! Criterion benchmarks of the retry decision.
fn main() {}
