//! The phases of one round of the loopback `overhead` bench.
//!
//! Each server alone: a closed loop from the hyper client (throughput, CPU per request,
//! client CPU), then a constant rate (latency, CPU per request). Then both servers at once:
//! the paired phase (the same constant rate each, from the same client: the machine's slow
//! spells, which swing one-server phases by 20% here, slow both alike and cancel out of the
//! ratio) and the server-bound phase (a closed loop from the minimal [`raw_client`], cheap
//! enough that the servers' shared core, not the client, is the bottleneck).

use std::time::{Duration, Instant};

use crate::loadgen::{self, ClosedLoop, Paced};
use crate::procfs::{cpu_time, own_cpu_time, rss_kib};
use crate::raw_client;
use crate::report::{Round, Run};
use crate::servers::{Kind, ServerProcess};

const WARM_UP: Duration = Duration::from_millis(500);

/// How each phase runs.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Length of each phase.
    pub duration: Duration,
    /// Keep-alive connections per server.
    pub connections: usize,
    /// The constant rate as a share of A's first closed-loop throughput.
    pub rate_fraction: f64,
}

/// One round against `[bare, chassis]`: each alone (A first in even rounds), then both at
/// once. `rate` is the constant rate, set by the first closed loop when `None`.
///
/// # Errors
///
/// When a server cannot be connected to.
pub async fn one_round(
    round: usize,
    [bare, chassis]: [&ServerProcess; 2],
    settings: Settings,
    rate: &mut Option<f64>,
) -> std::io::Result<Round> {
    let mut result = Round::default();
    let order = if round.is_multiple_of(2) {
        [bare, chassis]
    } else {
        [chassis, bare]
    };
    for server in order {
        let mut run = closed(server, settings).await?;
        let rps = *rate.get_or_insert(run.throughput_rps * settings.rate_fraction);
        paced(server, settings, rps, &mut run).await?;
        run.rss_kib_after = rss_kib(server.pid()).unwrap_or_default();
        match server.kind {
            Kind::Bare => result.bare = run,
            _ => result.chassis = run,
        }
    }
    let rps = rate.unwrap_or_default() / 2.0;
    paired(
        [bare, chassis],
        settings,
        rps,
        [&mut result.bare, &mut result.chassis],
    )
    .await?;
    server_bound(
        [bare, chassis],
        settings,
        [&mut result.bare, &mut result.chassis],
    )
    .await?;
    Ok(result)
}

/// CPU time `pid` used since `before`.
fn cpu_since(pid: u32, before: Option<Duration>) -> Duration {
    cpu_time(pid)
        .zip(before)
        .map(|(after, before)| after.saturating_sub(before))
        .unwrap_or_default()
}

#[allow(clippy::cast_precision_loss)]
fn micros_per(cpu: Duration, requests: u64) -> f64 {
    cpu.as_secs_f64() * 1e6 / requests.max(1) as f64
}

/// Warm-up, then the closed loop: throughput, server and client CPU.
async fn closed(server: &ServerProcess, settings: Settings) -> std::io::Result<Run> {
    let senders = loadgen::connect(server.addr, settings.connections).await?;
    let warm = loadgen::closed_loop(server.addr, senders, WARM_UP).await;
    let senders = loadgen::connect(server.addr, settings.connections).await?;
    let (server_before, client_before) = (cpu_time(server.pid()), own_cpu_time());
    let result = loadgen::closed_loop(server.addr, senders, settings.duration).await;
    let server_cpu = cpu_since(server.pid(), server_before);
    let client_cpu = own_cpu_time().saturating_sub(client_before);
    let wall = result.elapsed.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    Ok(Run {
        throughput_rps: result.requests as f64 / wall,
        cpu_us_per_request: micros_per(server_cpu, result.requests),
        client_cpu_percent: client_cpu.as_secs_f64() * 100.0 / wall,
        errors: warm.errors + result.errors,
        ..Run::default()
    })
}

/// The constant-rate phase: latency and CPU per request below saturation.
async fn paced(
    server: &ServerProcess,
    settings: Settings,
    rate: f64,
    run: &mut Run,
) -> std::io::Result<()> {
    let senders = loadgen::connect(server.addr, settings.connections).await?;
    let before = cpu_time(server.pid());
    let result = loadgen::constant_rate(server.addr, senders, rate, settings.duration).await;
    let server_cpu = cpu_since(server.pid(), before);
    run.paced_rps = achieved(&result);
    run.p50_us = result.quantile(0.5).as_secs_f64() * 1e6;
    run.p99_us = result.quantile(0.99).as_secs_f64() * 1e6;
    run.paced_cpu_us_per_request = micros_per(server_cpu, result.requests);
    run.late_sends = result.late;
    run.errors += result.errors;
    Ok(())
}

#[allow(clippy::cast_precision_loss)]
fn achieved(result: &Paced) -> f64 {
    result.requests as f64 / result.elapsed.as_secs_f64()
}

/// Both servers at `rate` each, at the same time, from the same load generator: server CPU
/// per response and the achieved rate of each.
async fn paired(
    [a, b]: [&ServerProcess; 2],
    settings: Settings,
    rate: f64,
    runs: [&mut Run; 2],
) -> std::io::Result<()> {
    let (to_a, to_b) = (
        loadgen::connect(a.addr, settings.connections).await?,
        loadgen::connect(b.addr, settings.connections).await?,
    );
    let before = [cpu_time(a.pid()), cpu_time(b.pid())];
    let done = tokio::join!(
        loadgen::constant_rate(a.addr, to_a, rate, settings.duration),
        loadgen::constant_rate(b.addr, to_b, rate, settings.duration),
    );
    let cpu = [cpu_since(a.pid(), before[0]), cpu_since(b.pid(), before[1])];
    for ((run, done), cpu) in runs.into_iter().zip([done.0, done.1]).zip(cpu) {
        run.paired_cpu_us_per_request = micros_per(cpu, done.requests);
        run.paired_rps = achieved(&done);
        run.errors += done.errors;
    }
    Ok(())
}

/// Both servers at once, each under a closed loop from the minimal load generator. The
/// scheduler gives each half of their shared core, so their throughputs compare what a
/// request costs each at saturation; each one's share of the core is kept to check that.
async fn server_bound(
    [a, b]: [&ServerProcess; 2],
    settings: Settings,
    runs: [&mut Run; 2],
) -> std::io::Result<()> {
    let start = Instant::now();
    let before = [cpu_time(a.pid()), cpu_time(b.pid())];
    let (done_a, done_b) = tokio::join!(
        raw_client::closed_loop(a.addr, settings.connections, settings.duration),
        raw_client::closed_loop(b.addr, settings.connections, settings.duration),
    );
    let cpu = [cpu_since(a.pid(), before[0]), cpu_since(b.pid(), before[1])];
    let wall = start.elapsed().as_secs_f64();
    let done: [ClosedLoop; 2] = [done_a?, done_b?];
    for ((run, done), cpu) in runs.into_iter().zip(done).zip(cpu) {
        #[allow(clippy::cast_precision_loss)]
        let rps = done.requests as f64 / done.elapsed.as_secs_f64();
        run.server_bound_rps = rps;
        run.server_bound_server_cpu_percent = cpu.as_secs_f64() * 100.0 / wall;
        run.errors += done.errors;
    }
    Ok(())
}
