//! Loopback overhead: bare axum (A) against a chassis server (B) with the same handler, each
//! in its own child process pinned to core 0 with one tokio worker, driven by the same hyper
//! client pinned to core 1, interleaved over several rounds. Each round runs each server
//! alone (a closed loop, then a constant rate), then both at once (paired at the constant
//! rate, and server-bound under a minimal client): see `chassis_benches::phases`.
//!
//! ```text
//! cargo run --release -p chassis-benches --bin overhead                 # measure (< 2 min)
//! cargo run --release -p chassis-benches --bin overhead -- --plot docs/benchmarks-ratios.svg
//! ```
//!
//! Options: `--seconds S` per phase (3), `--rounds R` (3), `--connections N` (16),
//! `--rate-fraction F` of A's throughput for the latency phase (0.6) or `--rate RPS`,
//! `--json-logs` (B logs JSON instead of pretty), `--access-log` (B writes its access log at
//! `info`, one line per request, as the examples do), `--startup-attempts N` (5), `--out FILE`
//! (`<target>/overhead.json`), `--plot FILE` (draw the ratios of the last results and exit).
//!
//! Sub-commands used by the bench itself and by the `strace` recipe in docs/benchmarks.md:
//! `serve bare|chassis|catalog PORT [--core N] [--json-logs] [--access-log]` (serves until
//! stdin closes) and
//! `drive 127.0.0.1:PORT [--seconds S] [--connections N]` (closed-loop load, prints the count).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use chassis_benches::cli::value;
use chassis_benches::criterion_results::median_ns;
use chassis_benches::phases::{self, Settings};
use chassis_benches::plot::{Bar, draw_ratios};
use chassis_benches::procfs::{Machine, rss_kib};
use chassis_benches::report::{OverheadReport, Ratios, Run, Startup, default_path, median};
use chassis_benches::servers::{Kind, Logs, ServerProcess, pin_current, serve};
use chassis_benches::{loadgen, report, table};

/// Cores: servers on the first, the load generator on the second.
const SERVER_CORE: usize = 0;
const CLIENT_CORE: usize = 1;
#[derive(Debug)]
struct Options {
    seconds: f64,
    rounds: usize,
    connections: usize,
    rate_fraction: f64,
    rate: Option<f64>,
    logs: Logs,
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
        logs: Logs::from_args(&args),
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

/// `serve KIND PORT [--core N] [--json-logs] [--access-log]`, run in the child.
fn child(args: &[String]) -> ExitCode {
    let kind = args.first().and_then(|k| Kind::parse(k));
    let port = args.get(1).and_then(|p| p.parse().ok());
    let (Some(kind), Some(port)) = (kind, port) else {
        eprintln!(
            "usage: overhead serve bare|chassis|catalog PORT [--core N] [--json-logs] [--access-log]"
        );
        return ExitCode::FAILURE;
    };
    let core = value(args, "--core").and_then(|c| c.parse().ok());
    serve(kind, port, core, Logs::from_args(args))
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
    if options.logs.access {
        println!("B writes its access log at info: one line per request, to /dev/null");
    }
    let startup = startup(&exe, core, options)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let bare = ServerProcess::start(&exe, Kind::Bare, core, Logs::default())?;
    let chassis = ServerProcess::start(&exe, Kind::Chassis, core, options.logs)?;
    let mut rate = options.rate;
    let mut rounds = Vec::new();
    let settings = Settings {
        duration: Duration::from_secs_f64(options.seconds),
        connections: options.connections,
        rate_fraction: options.rate_fraction,
    };
    for round in 0..options.rounds {
        let result = phases::one_round(round, [&bare, &chassis], settings, &mut rate);
        rounds.push(runtime.block_on(result)?);
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
    table::print(&report);
    if let Some(dir) = options.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&options.out, serde_json::to_vec_pretty(&report)?)?;
    println!("\nwrote {}", options.out.display());
    Ok(())
}

/// Exec-to-ready and idle memory of each kind, `startup_attempts` fresh processes each.
fn startup(exe: &Path, core: Option<usize>, options: &Options) -> std::io::Result<Vec<Startup>> {
    let mut out = Vec::new();
    for kind in [Kind::Bare, Kind::Chassis, Kind::Catalog] {
        let (mut ready, mut rss) = (Vec::new(), Vec::new());
        for _ in 0..options.startup_attempts.max(1) {
            let server = ServerProcess::start(exe, kind, core, options.logs)?;
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
