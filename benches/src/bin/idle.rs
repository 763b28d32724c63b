//! Idle CPU: what a service costs while nobody calls it. A bare axum server, a chassis
//! service without clients and the `shop` example (three services in one process, each
//! client with its breakers) start side by side, each in its own process; once all are
//! ready and have settled, their CPU time and wake-ups are read from `/proc` over the same
//! seconds. Before settling, the shop serves `--warm N` requests (100) to `GET /api/items`,
//! which the gateway answers by calling the catalog through its client: its breakers and
//! their clock have been used, and must go quiet again.
//!
//! Run: `cargo build --release -p shop && cargo run --release -p chassis-benches --bin idle
//! [-- --seconds S] [--settle S] [--warm N] [--shop PATH]`
//!
//! `--shop` defaults to the `shop` binary beside this one (the same target directory). The
//! shop's ports (service and admin) are free ones picked here, passed through its
//! environment; its logs go to /dev/null. Child mode: `serve bare|chassis PORT`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use chassis_benches::cli::value;
use chassis_benches::procfs::{context_switches, cpu_time, ticks};
use chassis_benches::servers::{Kind, Logs, ServerProcess, free_port, get_status, serve};

/// How long the shop may take to answer its first 200 on the gateway's readiness.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        let kind = args.get(1).and_then(|k| Kind::parse(k));
        let port = args.get(2).and_then(|p| p.parse().ok());
        let (Some(kind), Some(port)) = (kind, port) else {
            eprintln!("usage: idle serve bare|chassis PORT");
            return ExitCode::FAILURE;
        };
        return serve(kind, port, None, Logs::default());
    }
    let seconds: f64 = value(&args, "--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let settle: f64 = value(&args, "--settle")
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let warm: usize = value(&args, "--warm")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let shop = value(&args, "--shop").map_or_else(default_shop, PathBuf::from);
    let seconds = Duration::from_secs_f64(seconds);
    match measure(&shop, seconds, Duration::from_secs_f64(settle), warm) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("idle: {error}");
            ExitCode::FAILURE
        }
    }
}

fn default_shop() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("shop")))
        .unwrap_or_else(|| PathBuf::from("shop"))
}

fn measure(shop: &Path, seconds: Duration, settle: Duration, warm: usize) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    let bare = ServerProcess::start(&exe, Kind::Bare, None, Logs::default())?;
    let chassis = ServerProcess::start(&exe, Kind::Chassis, None, Logs::default())?;
    let mut shop = ShopProcess::start(shop)?;
    for _ in 0..warm {
        let status = get_status(shop.gateway, "/api/items")?;
        if status != 200 {
            return Err(std::io::Error::other(format!(
                "GET /api/items on the shop answered {status}"
            )));
        }
    }
    std::thread::sleep(settle);
    let pids = [
        ("bare axum", bare.pid()),
        ("chassis service, no clients", chassis.pid()),
        ("shop (3 services, clients with breakers)", shop.child.id()),
    ];
    let before = pids.map(|(_, pid)| Sample::of(pid));
    let start = Instant::now();
    std::thread::sleep(seconds);
    let wall = start.elapsed();
    let after = pids.map(|(_, pid)| Sample::of(pid));
    shop.stop();
    chassis.stop();
    bare.stop();

    println!(
        "idle for {:.1} s, {:.1} s after the shop served {warm} calls through its clients; \
         ticks are utime + stime (100 a second)",
        wall.as_secs_f64(),
        settle.as_secs_f64()
    );
    println!(
        "| process | ticks | CPU ms (schedstat) | % of one CPU | wake-ups / s |\n|---|---|---|---|---|"
    );
    for (((name, _), before), after) in pids.iter().zip(&before).zip(&after) {
        let (Some(b), Some(a)) = (before, after) else {
            println!("| {name} | gone | | | |");
            continue;
        };
        let cpu = a.cpu.saturating_sub(b.cpu);
        #[allow(
            clippy::cast_precision_loss,
            reason = "a count of wake-ups, far below 2^52"
        )]
        let wakeups = a.switches.saturating_sub(b.switches) as f64;
        println!(
            "| {name} | {} | {:.1} | {:.2} | {:.1} |",
            a.ticks.saturating_sub(b.ticks),
            cpu.as_secs_f64() * 1e3,
            cpu.as_secs_f64() * 100.0 / wall.as_secs_f64(),
            wakeups / wall.as_secs_f64()
        );
    }
    Ok(())
}

/// What `/proc` says about a process at one moment.
struct Sample {
    ticks: u64,
    cpu: Duration,
    switches: u64,
}

impl Sample {
    fn of(pid: u32) -> Option<Self> {
        Some(Self {
            ticks: ticks(pid)?,
            cpu: cpu_time(pid)?,
            switches: context_switches(pid)?,
        })
    }
}

/// The `shop` binary on free ports, ready (the gateway's readiness passes).
struct ShopProcess {
    child: Child,
    /// The gateway's public address.
    gateway: SocketAddr,
}

impl ShopProcess {
    fn start(exe: &Path) -> std::io::Result<Self> {
        let mut command = Command::new(exe);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .env_remove("RUST_LOG");
        // The health endpoints are on the admin port; the gateway's is ready last.
        let (mut gateway, mut gateway_admin) = (0, 0);
        for service in ["CATALOG", "ORDERS", "GATEWAY"] {
            gateway = free_port()?;
            gateway_admin = free_port()?;
            command.env(format!("{service}__SERVER__PORT"), gateway.to_string());
            command.env(
                format!("{service}__SERVER__ADMIN_PORT"),
                gateway_admin.to_string(),
            );
        }
        let gateway = SocketAddr::from(([127, 0, 0, 1], gateway));
        let addr = SocketAddr::from(([127, 0, 0, 1], gateway_admin));
        let start = Instant::now();
        let mut child = command.spawn()?;
        loop {
            if get_status(addr, "/health/ready").ok() == Some(200) {
                return Ok(Self { child, gateway });
            }
            if let Some(status) = child.try_wait()? {
                return Err(std::io::Error::other(format!(
                    "shop exited: {status} (is {} built?)",
                    exe.display()
                )));
            }
            if start.elapsed() > READY_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                return Err(std::io::Error::other("shop never got ready"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ShopProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
