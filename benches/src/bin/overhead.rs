//! Loopback overhead: bare axum (A) against a chassis server (B) with the same handler, each
//! in its own child process pinned to core 0 with one tokio worker, driven by the same hyper
//! client pinned to core 1, interleaved over several rounds. Each round has three phases: a
//! closed loop (throughput, CPU per request), a constant rate (latency, CPU per request) for
//! each server in turn, then both servers at half that rate at the same time ("paired"):
//! their requests interleave finely, so the machine's slow spells, which swing one-server
//! phases by 20% here, cancel out of the paired CPU ratio. Last, both servers at once under a
//! closed loop from a minimal HTTP/1.1 client (`raw_client`), cheap enough that their shared
//! core is the bottleneck: the server-bound throughput ratio the hyper client cannot show.
//!
//! ```text
//! cargo run --release -p chassis-benches --bin overhead                 # measure (< 2 min)
//! cargo run --release -p chassis-benches --bin overhead -- --plot docs/benchmarks-ratios.svg
//! ```
//!
//! Options: `--seconds S` per phase (3), `--rounds R` (3), `--connections N` (16),
//! `--rate-fraction F` of A's throughput for the latency phase (0.6) or `--rate RPS`,
//! `--json-logs` (B logs JSON instead of pretty), `--startup-attempts N` (5), `--out FILE`
//! (`<target>/overhead.json`), `--plot FILE` (draw the ratios of the last results and exit).
//!
//! Sub-commands used by the bench itself and by the `strace` recipe in docs/benchmarks.md:
//! `serve bare|chassis|catalog PORT [--core N] [--json-logs]` (serves until stdin closes) and
//! `drive 127.0.0.1:PORT [--seconds S] [--connections N]` (closed-loop load, prints the count).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use chassis_benches::cli::value;
use chassis_benches::criterion_results::median_ns;
use chassis_benches::plot::{Bar, draw_ratios};
use chassis_benches::procfs::{Machine, cpu_time, own_cpu_time, rss_kib};
use chassis_benches::report::{OverheadReport, Ratios, Round, Run, Startup, default_path, median};
use chassis_benches::servers::{Kind, ServerProcess, pin_current, serve};
use chassis_benches::{loadgen, raw_client, report};

/// Cores: servers on the first, the load generator on the second.
const SERVER_CORE: usize = 0;
const CLIENT_CORE: usize = 1;
/// The client CPU share above which the client, not the server, may be the bottleneck.
const CLIENT_BOUND: f64 = 85.0;
/// The servers' share of their core below which the server-bound phase may not be
/// server-bound.
const SERVER_BOUND: f64 = 90.0;
const WARM_UP: Duration = Duration::from_millis(500);

#[derive(Debug)]
struct Options {
    seconds: f64,
    rounds: usize,
    connections: usize,
    rate_fraction: f64,
    rate: Option<f64>,
    json_logs: bool,
    startup_attempts: usize,
    out: PathBuf,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => return child(&args[1..]),
        Some("drive") => return drive(&args[1..]),
        _ => {}
    }
    if let Some(plot) = value(&args, "--plot") {
        let from = value(&args, "--out").map_or_else(default_path, PathBuf::from);
        return match plot_from(&from, Path::new(&plot)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("plot: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let parse = |name: &str, default: f64| {
        value(&args, name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let options = Options {
        seconds: parse("--seconds", 3.0),
        rounds: parse("--rounds", 3.0) as usize,
        connections: parse("--connections", 16.0) as usize,
        rate_fraction: parse("--rate-fraction", 0.6),
        rate: value(&args, "--rate").and_then(|v| v.parse().ok()),
        json_logs: args.iter().any(|a| a == "--json-logs"),
        startup_attempts: parse("--startup-attempts", 5.0) as usize,
        out: value(&args, "--out").map_or_else(default_path, PathBuf::from),
    };
    match measure(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("overhead: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `serve KIND PORT [--core N] [--json-logs]`, run in the child.
fn child(args: &[String]) -> ExitCode {
    let kind = args.first().and_then(|k| Kind::parse(k));
    let port = args.get(1).and_then(|p| p.parse().ok());
    let (Some(kind), Some(port)) = (kind, port) else {
        eprintln!("usage: overhead serve bare|chassis|catalog PORT [--core N] [--json-logs]");
        return ExitCode::FAILURE;
    };
    let core = value(args, "--core").and_then(|c| c.parse().ok());
    serve(kind, port, core, args.iter().any(|a| a == "--json-logs"))
}

/// `drive ADDR [--seconds S] [--connections N]`: closed-loop load on a running server, then
/// prints the number of answers (for `strace -c`: syscalls per request).
fn drive(args: &[String]) -> ExitCode {
    let Some(addr) = args.first().and_then(|a| a.parse().ok()) else {
        eprintln!("usage: overhead drive 127.0.0.1:PORT [--seconds S] [--connections N]");
        return ExitCode::FAILURE;
    };
    let seconds = value(args, "--seconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    let connections = value(args, "--connections")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::FAILURE;
    };
    let result = runtime.block_on(async {
        let senders = loadgen::connect(addr, connections).await?;
        let duration = Duration::from_secs_f64(seconds);
        Ok::<_, std::io::Error>(loadgen::closed_loop(addr, senders, duration).await)
    });
    match result {
        Ok(done) => {
            println!("{} requests, {} errors", done.requests, done.errors);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("drive: {error}");
            ExitCode::FAILURE
        }
    }
}

fn measure(options: &Options) -> Result<(), Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let machine = Machine::current();
    let pinned = machine.cpus > CLIENT_CORE && pin_current(CLIENT_CORE);
    let core = pinned.then_some(SERVER_CORE);
    println!(
        "machine: {} CPUs, {}, kernel {}",
        machine.cpus, machine.cpu_model, machine.kernel
    );
    if pinned {
        println!(
            "servers: core {SERVER_CORE}, one tokio worker; load generator: core {CLIENT_CORE}"
        );
    } else {
        println!(
            "NOT PINNED: fewer than two usable cores or sched_setaffinity refused; server and client share CPUs"
        );
    }
    let startup = startup(&exe, core, options)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let bare = ServerProcess::start(&exe, Kind::Bare, core, false)?;
    let chassis = ServerProcess::start(&exe, Kind::Chassis, core, options.json_logs)?;
    let mut rate = options.rate;
    let mut rounds = Vec::new();
    for round in 0..options.rounds {
        let result = runtime.block_on(one_round(round, [&bare, &chassis], options, &mut rate))?;
        rounds.push(result);
    }
    bare.stop();
    chassis.stop();

    let idle = |kind: &str| {
        startup
            .iter()
            .find(|s| s.kind == kind)
            .map_or(0, |s| s.idle_rss_kib)
    };
    #[allow(clippy::cast_precision_loss)]
    let idle_rss = idle("chassis") as f64 / idle("bare").max(1) as f64;
    let ratio = |f: fn(&Run) -> f64| {
        let mut each: Vec<f64> = rounds.iter().map(|r| f(&r.chassis) / f(&r.bare)).collect();
        median(&mut each)
    };
    let ratios = Ratios {
        throughput: ratio(|r| r.throughput_rps),
        cpu_per_request: ratio(|r| r.cpu_us_per_request),
        paced_cpu_per_request: ratio(|r| r.paced_cpu_us_per_request),
        paired_cpu_per_request: ratio(|r| r.paired_cpu_us_per_request),
        server_bound_throughput: ratio(|r| r.server_bound_rps),
        p50: ratio(|r| r.p50_us),
        p99: ratio(|r| r.p99_us),
        idle_rss,
    };
    let report = OverheadReport {
        machine,
        pinned,
        seconds: options.seconds,
        connections: options.connections,
        rate_rps: rate.unwrap_or_default(),
        rounds,
        startup,
        ratios,
    };
    print_report(&report);
    if let Some(dir) = options.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&options.out, serde_json::to_vec_pretty(&report)?)?;
    println!("\nwrote {}", options.out.display());
    Ok(())
}

/// One round: each server alone (closed loop, constant rate; the order alternates by
/// round), then both at once (paired, server-bound). `rate` is set by the first closed loop.
async fn one_round(
    round: usize,
    [bare, chassis]: [&ServerProcess; 2],
    options: &Options,
    rate: &mut Option<f64>,
) -> std::io::Result<Round> {
    let duration = Duration::from_secs_f64(options.seconds);
    let mut result = Round::default();
    let order = if round.is_multiple_of(2) {
        [bare, chassis]
    } else {
        [chassis, bare]
    };
    for server in order {
        let mut run = closed(server, options.connections, duration).await?;
        let rps = *rate.get_or_insert(run.throughput_rps * options.rate_fraction);
        paced(server, options.connections, rps, duration, &mut run).await?;
        run.rss_kib_after = rss_kib(server.pid()).unwrap_or_default();
        match server.kind {
            Kind::Bare => result.bare = run,
            _ => result.chassis = run,
        }
    }
    let rps = rate.unwrap_or_default() / 2.0;
    let (bare_cpu, chassis_cpu) =
        paired([bare, chassis], options.connections, rps, duration).await?;
    result.bare.paired_cpu_us_per_request = bare_cpu;
    result.chassis.paired_cpu_us_per_request = chassis_cpu;
    let (bare_bound, chassis_bound) =
        server_bound([bare, chassis], options.connections, duration).await?;
    (
        result.bare.server_bound_rps,
        result.bare.server_bound_server_cpu_percent,
    ) = bare_bound;
    (
        result.chassis.server_bound_rps,
        result.chassis.server_bound_server_cpu_percent,
    ) = chassis_bound;
    Ok(result)
}

/// Exec-to-ready and idle memory of each kind, `startup_attempts` fresh processes each.
fn startup(exe: &Path, core: Option<usize>, options: &Options) -> std::io::Result<Vec<Startup>> {
    let mut out = Vec::new();
    for kind in [Kind::Bare, Kind::Chassis, Kind::Catalog] {
        let (mut ready, mut rss) = (Vec::new(), Vec::new());
        for _ in 0..options.startup_attempts.max(1) {
            let server = ServerProcess::start(exe, kind, core, options.json_logs)?;
            ready.push(server.exec_to_ready.as_secs_f64() * 1e3);
            std::thread::sleep(Duration::from_millis(100));
            #[allow(clippy::cast_precision_loss)]
            rss.push(rss_kib(server.pid()).unwrap_or_default() as f64);
            server.stop();
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let idle_rss_kib = median(&mut rss) as u64;
        out.push(Startup {
            kind: kind.name().to_owned(),
            exec_to_ready_ms: ready,
            idle_rss_kib,
        });
    }
    Ok(out)
}

/// Warm-up, then the closed loop: throughput, server and client CPU.
async fn closed(
    server: &ServerProcess,
    connections: usize,
    duration: Duration,
) -> std::io::Result<Run> {
    let senders = loadgen::connect(server.addr, connections).await?;
    let warm = loadgen::closed_loop(server.addr, senders, WARM_UP).await;
    let senders = loadgen::connect(server.addr, connections).await?;
    let (server_before, client_before) = (cpu_time(server.pid()), own_cpu_time());
    let result = loadgen::closed_loop(server.addr, senders, duration).await;
    let (server_after, client_after) = (cpu_time(server.pid()), own_cpu_time());
    let server_cpu = server_after
        .zip(server_before)
        .map(|(a, b)| a.saturating_sub(b))
        .unwrap_or_default();
    let wall = result.elapsed.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let requests = result.requests.max(1) as f64;
    Ok(Run {
        throughput_rps: requests / wall,
        cpu_us_per_request: server_cpu.as_secs_f64() * 1e6 / requests,
        client_cpu_percent: client_after.saturating_sub(client_before).as_secs_f64() * 100.0 / wall,
        errors: warm.errors + result.errors,
        ..Run::default()
    })
}

/// The constant-rate phase: latency and CPU per request below saturation.
async fn paced(
    server: &ServerProcess,
    connections: usize,
    rate: f64,
    duration: Duration,
    run: &mut Run,
) -> std::io::Result<()> {
    let senders = loadgen::connect(server.addr, connections).await?;
    let before = cpu_time(server.pid());
    let result = loadgen::constant_rate(server.addr, senders, rate, duration).await;
    let server_cpu = cpu_time(server.pid())
        .zip(before)
        .map(|(a, b)| a.saturating_sub(b))
        .unwrap_or_default();
    #[allow(clippy::cast_precision_loss)]
    let requests = result.requests.max(1) as f64;
    run.paced_rps = requests / result.elapsed.as_secs_f64();
    run.p50_us = result.quantile(0.5).as_secs_f64() * 1e6;
    run.p99_us = result.quantile(0.99).as_secs_f64() * 1e6;
    run.paced_cpu_us_per_request = server_cpu.as_secs_f64() * 1e6 / requests;
    run.late_sends = result.late;
    run.errors += result.errors;
    Ok(())
}

/// The server-bound phase: both servers at once, each driven by the minimal load generator
/// (cheap enough that their shared core, not the client, is the bottleneck). The scheduler
/// gives each half the core, so their throughputs compare what a request costs each at
/// saturation. Returns (requests per second, % of a core) of each.
async fn server_bound(
    [a, b]: [&ServerProcess; 2],
    connections: usize,
    duration: Duration,
) -> std::io::Result<((f64, f64), (f64, f64))> {
    let before = [cpu_time(a.pid()), cpu_time(b.pid())];
    let (done_a, done_b) = tokio::join!(
        raw_client::closed_loop(a.addr, connections, duration),
        raw_client::closed_loop(b.addr, connections, duration),
    );
    let after = [cpu_time(a.pid()), cpu_time(b.pid())];
    let (done_a, done_b) = (done_a?, done_b?);
    #[allow(clippy::cast_precision_loss)]
    let figures = |i: usize, done: &loadgen::ClosedLoop| {
        let wall = done.elapsed.as_secs_f64();
        let cpu = after[i]
            .zip(before[i])
            .map(|(after, before)| after.saturating_sub(before))
            .unwrap_or_default();
        (
            done.requests as f64 / wall,
            cpu.as_secs_f64() * 100.0 / wall,
        )
    };
    Ok((figures(0, &done_a), figures(1, &done_b)))
}

/// Both servers at `rate` each, at the same time, from the same load generator: server CPU
/// per response of each, µs. Their requests interleave finely, so a slow spell of the
/// machine slows both alike.
async fn paired(
    servers: [&ServerProcess; 2],
    connections: usize,
    rate: f64,
    duration: Duration,
) -> std::io::Result<(f64, f64)> {
    let [a, b] = servers;
    let (to_a, to_b) = (
        loadgen::connect(a.addr, connections).await?,
        loadgen::connect(b.addr, connections).await?,
    );
    let before = [cpu_time(a.pid()), cpu_time(b.pid())];
    let (done_a, done_b) = tokio::join!(
        loadgen::constant_rate(a.addr, to_a, rate, duration),
        loadgen::constant_rate(b.addr, to_b, rate, duration),
    );
    let after = [cpu_time(a.pid()), cpu_time(b.pid())];
    #[allow(clippy::cast_precision_loss)]
    let per_request = |i: usize, requests: u64| {
        let cpu = after[i]
            .zip(before[i])
            .map(|(after, before)| after.saturating_sub(before))
            .unwrap_or_default();
        cpu.as_secs_f64() * 1e6 / requests.max(1) as f64
    };
    Ok((
        per_request(0, done_a.requests),
        per_request(1, done_b.requests),
    ))
}

fn print_report(report: &OverheadReport) {
    println!(
        "\n{} s per phase, {} connections, constant rate {:.0} req/s\n",
        report.seconds, report.connections, report.rate_rps
    );
    println!(
        "{:<6} {:<8} {:>10} {:>12} {:>11} {:>10} {:>9} {:>9} {:>13} {:>13} {:>11} {:>9} {:>9} {:>7}",
        "round",
        "server",
        "req/s",
        "cpu µs/req",
        "client cpu",
        "rate",
        "p50 µs",
        "p99 µs",
        "cpu µs/req@r",
        "cpu µs/req 2x",
        "req/s bound",
        "srv cpu",
        "rss KiB",
        "errors"
    );
    print_rounds(report);
    for (i, round) in report.rounds.iter().enumerate() {
        for (name, run) in [("bare", &round.bare), ("chassis", &round.chassis)] {
            if run.paced_rps < 0.95 * report.rate_rps {
                println!(
                    "NOTE: round {} {name} sustained only {:.0} of {:.0} req/s: its latency shows saturation, not service time",
                    i + 1,
                    run.paced_rps,
                    report.rate_rps
                );
            }
        }
    }
    let r = &report.ratios;
    println!(
        "\nB/A, median of rounds: server CPU per request {:.3} (closed loop) {:.3} (constant rate) {:.3} (paired), \
         throughput {:.3} (hyper client) {:.3} (server-bound), p50 {:.3}, p99 {:.3}, idle RSS {:.2}",
        r.cpu_per_request,
        r.paced_cpu_per_request,
        r.paired_cpu_per_request,
        r.throughput,
        r.server_bound_throughput,
        r.p50,
        r.p99,
        r.idle_rss
    );
    let client_max = report
        .rounds
        .iter()
        .flat_map(|r| [r.bare.client_cpu_percent, r.chassis.client_cpu_percent])
        .fold(0.0, f64::max);
    if client_max > CLIENT_BOUND {
        println!(
            "NOTE: the hyper load generator used up to {client_max:.0}% of its core: it, not the server, limits \
             throughput, so that throughput ratio flatters the stack. The server-bound throughput and server CPU \
             per request are the figures that count."
        );
    }
    let core_min = report
        .rounds
        .iter()
        .map(|r| r.bare.server_bound_server_cpu_percent + r.chassis.server_bound_server_cpu_percent)
        .fold(f64::INFINITY, f64::min);
    if core_min < SERVER_BOUND {
        println!(
            "NOTE: in the server-bound phase the servers used only {core_min:.0}% of their core: the load \
             generator may have limited them."
        );
    }
    println!(
        "\n{:<8} {:>22} {:>14}",
        "server", "exec-to-ready ms", "idle RSS KiB"
    );
    for s in &report.startup {
        let mut ready = s.exec_to_ready_ms.clone();
        let min = ready.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{:<8} {:>10.1} (min {:>5.1}) {:>14}",
            s.kind,
            report::median(&mut ready),
            min,
            s.idle_rss_kib
        );
    }
}

/// The per-round table.
fn print_rounds(report: &OverheadReport) {
    for (i, round) in report.rounds.iter().enumerate() {
        for (name, run) in [("bare", &round.bare), ("chassis", &round.chassis)] {
            println!(
                "{:<6} {:<8} {:>10.0} {:>12.2} {:>10.0}% {:>10.0} {:>9.0} {:>9.0} {:>13.2} {:>13.2} {:>11.0} {:>8.0}% {:>9} {:>7}",
                i + 1,
                name,
                run.throughput_rps,
                run.cpu_us_per_request,
                run.client_cpu_percent,
                run.paced_rps,
                run.p50_us,
                run.p99_us,
                run.paced_cpu_us_per_request,
                run.paired_cpu_us_per_request,
                run.server_bound_rps,
                run.server_bound_server_cpu_percent,
                run.rss_kib_after,
                run.errors
            );
        }
        println!(
            "{:<6} {:<8} {:>10.3} {:>12.3} {:>11} {:>10} {:>9.3} {:>9.3} {:>13.3} {:>13.3} {:>11.3}",
            i + 1,
            "B/A",
            round.chassis.throughput_rps / round.bare.throughput_rps,
            round.chassis.cpu_us_per_request / round.bare.cpu_us_per_request,
            "",
            "",
            round.chassis.p50_us / round.bare.p50_us,
            round.chassis.p99_us / round.bare.p99_us,
            round.chassis.paced_cpu_us_per_request / round.bare.paced_cpu_us_per_request,
            round.chassis.paired_cpu_us_per_request / round.bare.paired_cpu_us_per_request,
            round.chassis.server_bound_rps / round.bare.server_bound_rps,
        );
    }
}

/// The in-process ratios: from the last `--bin inprocess` run, else from the last criterion
/// run of `overhead_inprocess`.
fn in_process_bars() -> Vec<Bar> {
    const SHOWN: [(&str, &str); 3] = [
        ("b_chassis", "in-process: chassis stack, time/request"),
        (
            "c_chassis_json_logs",
            "in-process: + JSON logs, time/request",
        ),
        (
            "c_chassis_otlp_export",
            "in-process: + trace export, time/request",
        ),
    ];
    let interleaved: Option<Vec<report::InProcess>> =
        std::fs::read_to_string(report::inprocess_path())
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());
    let ratio_of = |name: &str| -> Option<f64> {
        match &interleaved {
            Some(results) => results.iter().find(|r| r.name == name).map(|r| r.ratio),
            None => Some(median_ns("inprocess", name)? / median_ns("inprocess", "a_bare")?),
        }
    };
    SHOWN
        .iter()
        .filter_map(|(name, label)| {
            Some(Bar {
                label: (*label).to_owned(),
                ratio: ratio_of(name)?,
            })
        })
        .collect()
}

/// Draws the ratios of the last results (and of the last in-process run).
fn plot_from(results: &Path, svg: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(results)
        .map_err(|e| format!("{}: {e} (run the overhead bench first)", results.display()))?;
    let report: OverheadReport = serde_json::from_str(&text)?;
    let mut bars = in_process_bars();
    let r = &report.ratios;
    for (label, ratio) in [
        ("loopback: server CPU/request", r.cpu_per_request),
        (
            "loopback: server CPU/request, constant rate",
            r.paced_cpu_per_request,
        ),
        (
            "loopback: server CPU/request, paired",
            r.paired_cpu_per_request,
        ),
        ("loopback: throughput, hyper client", r.throughput),
        (
            "loopback: throughput, server-bound",
            r.server_bound_throughput,
        ),
        ("loopback: p50 at constant rate", r.p50),
        ("loopback: p99 at constant rate", r.p99),
        ("idle resident memory", r.idle_rss),
    ] {
        bars.push(Bar {
            label: label.to_owned(),
            ratio,
        });
    }
    draw_ratios(svg, "chassis / bare axum (one run; red: above 1.10)", &bars)?;
    println!("wrote {}", svg.display());
    Ok(())
}
