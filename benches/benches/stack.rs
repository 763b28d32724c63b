//! Criterion benchmarks of the server stack.
fn main() {}
