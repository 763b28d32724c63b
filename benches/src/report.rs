//! The loopback benchmark's results as JSON (`overhead.json` in the target directory), so the
//! plot and the docs can be made from the last run.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::procfs::Machine;

/// One server's numbers in one round.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Run {
    /// Closed loop: responses per second.
    pub throughput_rps: f64,
    /// Closed loop: server CPU time (user + system) per response, µs.
    pub cpu_us_per_request: f64,
    /// Closed loop: the load generator's CPU use, % of its one core.
    pub client_cpu_percent: f64,
    /// Constant rate: the achieved rate, responses per second.
    pub paced_rps: f64,
    /// Constant rate: median latency, µs.
    pub p50_us: f64,
    /// Constant rate: 99th percentile latency, µs.
    pub p99_us: f64,
    /// Constant rate: server CPU per response, µs.
    pub paced_cpu_us_per_request: f64,
    /// Paired: server CPU per response, µs, while both servers take the same constant rate
    /// at the same time.
    #[serde(default)]
    pub paired_cpu_us_per_request: f64,
    /// Paired: the achieved rate, responses per second.
    #[serde(default)]
    pub paired_rps: f64,
    /// Server-bound: responses per second to the minimal load generator.
    #[serde(default)]
    pub server_bound_rps: f64,
    /// Server-bound: the server's CPU use, % of its one core (near 100: it is the
    /// bottleneck).
    #[serde(default)]
    pub server_bound_server_cpu_percent: f64,
    /// Constant rate: sends more than 1 ms behind their slot.
    pub late_sends: u64,
    /// Failed or non-200 requests, all phases.
    pub errors: u64,
    /// Resident memory after the round, KiB.
    pub rss_kib_after: u64,
}

/// Bare axum (A) and the chassis server (B) in one round.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Round {
    /// A.
    pub bare: Run,
    /// B.
    pub chassis: Run,
}

/// Start-up and idle memory of one kind of server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Startup {
    /// `bare`, `chassis` or `catalog`.
    pub kind: String,
    /// Exec to the first 200 on its ready path, each attempt, ms.
    pub exec_to_ready_ms: Vec<f64>,
    /// Resident memory once ready and idle, KiB (median of the attempts).
    pub idle_rss_kib: u64,
}

/// Ratios B/A, each the median of the per-round ratios.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ratios {
    /// Throughput B/A (below 1: B serves fewer).
    pub throughput: f64,
    /// Server CPU per request in the closed loop, B/A (above 1: B costs more). The faster
    /// server also batches more requests per wake-up here, which lowers its figure.
    pub cpu_per_request: f64,
    /// Server CPU per request at the constant rate, B/A: both servers under the same load.
    #[serde(default)]
    pub paced_cpu_per_request: f64,
    /// Server CPU per request with both servers under the same constant rate at the same
    /// time, B/A: what drifts on the machine drifts for both.
    #[serde(default)]
    pub paired_cpu_per_request: f64,
    /// Throughput B/A with the server as the bottleneck (the minimal load generator).
    #[serde(default)]
    pub server_bound_throughput: f64,
    /// p50 at the constant rate, B/A.
    pub p50: f64,
    /// p99 at the constant rate, B/A.
    pub p99: f64,
    /// Idle resident memory B/A.
    pub idle_rss: f64,
}

/// Everything one run of the `overhead` binary measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OverheadReport {
    /// Where it ran.
    pub machine: Machine,
    /// Whether servers and client were pinned to separate cores.
    pub pinned: bool,
    /// Seconds per measured phase.
    pub seconds: f64,
    /// Keep-alive connections of the load generator.
    pub connections: usize,
    /// The constant rate of the latency phase, requests per second.
    pub rate_rps: f64,
    /// The rounds, in order.
    pub rounds: Vec<Round>,
    /// Start-up and idle memory.
    pub startup: Vec<Startup>,
    /// Medians of the per-round ratios B/A.
    pub ratios: Ratios,
}

/// One service of the interleaved in-process run (`--bin inprocess`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InProcess {
    /// The service, as the criterion bench names it (`b_chassis`).
    pub name: String,
    /// Median time per request, ns.
    pub ns: f64,
    /// Median of the per-round ratios to bare axum.
    pub ratio: f64,
}

/// Where the `inprocess` binary writes its results.
pub fn inprocess_path() -> PathBuf {
    target_dir().join("inprocess.json")
}

/// The target directory: `$CARGO_TARGET_DIR`, else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    )
}

/// Where the `overhead` binary writes its results.
pub fn default_path() -> PathBuf {
    target_dir().join("overhead.json")
}

/// The median of `values` (0 for none).
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        f64::midpoint(values[mid - 1], values[mid])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert!((median(&mut [3.0, 1.0, 2.0]) - 2.0).abs() < f64::EPSILON);
        assert!((median(&mut [4.0, 1.0, 2.0, 3.0]) - 2.5).abs() < f64::EPSILON);
        assert!(median(&mut []).abs() < f64::EPSILON);
    }
}
