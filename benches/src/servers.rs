//! The servers of the loopback benchmark, each in a child process of its own so that its CPU
//! time and memory can be read from `/proc`: the child side ([`serve`]) and the parent side
//! ([`ServerProcess`]).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::serve::ListenerExt as _;
use chassis::service::{Context, Launcher, Microservice};

use crate::fixtures;

/// How long a child may take to answer its first 200.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Which server a child process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `axum::serve` with the bare router (TCP_NODELAY on, as chassis sets it).
    Bare,
    /// The same handler run by `chassis::service` (standard stack, telemetry layer, health,
    /// `/metrics`, `/info`), logging at INFO to stdout (the parent sends it to /dev/null).
    Chassis,
    /// The `catalog` example service, for start-up time and memory.
    Catalog,
}

impl Kind {
    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Bare => "bare",
            Kind::Chassis => "chassis",
            Kind::Catalog => "catalog",
        }
    }

    /// Parses [`Kind::name`].
    pub fn parse(name: &str) -> Option<Self> {
        [Kind::Bare, Kind::Chassis, Kind::Catalog]
            .into_iter()
            .find(|k| k.name() == name)
    }

    /// The path that answers 200 once the server is ready.
    pub fn ready_path(self) -> &'static str {
        match self {
            Kind::Bare => fixtures::PATH,
            Kind::Chassis | Kind::Catalog => "/health/ready",
        }
    }
}

/// The trivial handler as a chassis service.
#[derive(Debug)]
pub struct BenchService;

impl Microservice for BenchService {
    type Config = ();
    const NAME: &'static str = "bench";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    async fn router(_ctx: Context<()>) -> Result<Router, tower::BoxError> {
        Ok(fixtures::routes())
    }
}

/// Pins the calling thread (and the threads it starts later) to CPU `core`: `false` when the
/// kernel refuses (no such CPU, or outside the allowed set).
pub fn pin_current(core: usize) -> bool {
    // Not `get_core_ids`: it lists only the CPUs of the current mask, and a child inherits
    // its parent's (the load generator's core).
    core_affinity::set_for_current(core_affinity::CoreId { id: core })
}

/// How a chassis server logs (bare axum logs nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Logs {
    /// JSON lines instead of pretty text (`--json-logs`).
    pub json: bool,
    /// The access log at `info`, one line per request (`--access-log`), instead of `debug`.
    pub access: bool,
}

impl Logs {
    /// From the command line's `--json-logs` and `--access-log`.
    pub fn from_args(args: &[String]) -> Self {
        Self {
            json: args.iter().any(|a| a == "--json-logs"),
            access: args.iter().any(|a| a == "--access-log"),
        }
    }

    /// The flags that give these settings.
    pub fn args(self) -> impl Iterator<Item = &'static str> {
        [
            self.json.then_some("--json-logs"),
            self.access.then_some("--access-log"),
        ]
        .into_iter()
        .flatten()
    }
}

/// Child side: serves `kind` on `127.0.0.1:port` with a one-worker current-thread runtime,
/// pinned to `core` when given, until standard input closes, logging as `logs` says.
pub fn serve(kind: Kind, port: u16, core: Option<usize>, logs: Logs) -> ExitCode {
    if let Some(core) = core
        && !pin_current(core)
    {
        eprintln!("{}: cannot pin to core {core}", kind.name());
    }
    // The parent holds our stdin; when it closes (the parent is done or died), exit.
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let format = if logs.json { "json" } else { "pretty" };
        let access = if logs.access { "info" } else { "debug" };
        let handle = match kind {
            Kind::Bare => {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
                let listener = listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                axum::serve(listener, fixtures::bare()).await?;
                return Ok(());
            }
            Kind::Chassis => launch::<BenchService>(port, format, access).await?,
            Kind::Catalog => launch::<catalog::Catalog>(port, format, access).await?,
        };
        std::future::pending::<()>().await;
        drop(handle);
        Ok::<_, tower::BoxError>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}: {error}", kind.name());
            ExitCode::FAILURE
        }
    }
}

async fn launch<S: Microservice>(
    port: u16,
    format: &str,
    access: &str,
) -> Result<chassis::service::ServiceHandle, tower::BoxError> {
    Ok(Launcher::<S>::new()?
        .set("server.host", "127.0.0.1")
        .set("server.port", port)
        .set("telemetry.log.format", format)
        .set("telemetry.log.access", access)
        .spawn()
        .await?)
}

/// Parent side: a server running in a child process of this executable.
#[derive(Debug)]
pub struct ServerProcess {
    /// What it runs.
    pub kind: Kind,
    /// Where it listens.
    pub addr: SocketAddr,
    /// From just before `spawn` to the first 200 on [`Kind::ready_path`].
    pub exec_to_ready: Duration,
    child: std::process::Child,
}

impl ServerProcess {
    /// Re-executes `exe` as `exe serve KIND PORT [--core N] [--json-logs] [--access-log]` and
    /// waits until it answers 200.
    pub fn start(exe: &Path, kind: Kind, core: Option<usize>, logs: Logs) -> std::io::Result<Self> {
        let port = free_port()?;
        let mut command = Command::new(exe);
        command
            .args(["serve", kind.name(), &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .env_remove("RUST_LOG");
        if let Some(core) = core {
            command.args(["--core", &core.to_string()]);
        }
        command.args(logs.args());
        let start = Instant::now();
        let mut child = command.spawn()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        loop {
            if get_status(addr, kind.ready_path()).ok() == Some(200) {
                break;
            }
            if let Some(status) = child.try_wait()? {
                return Err(std::io::Error::other(format!(
                    "{} exited: {status}",
                    kind.name()
                )));
            }
            if start.elapsed() > READY_TIMEOUT {
                let _ = child.kill();
                return Err(std::io::Error::other(format!(
                    "{} never got ready",
                    kind.name()
                )));
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        Ok(Self {
            kind,
            addr,
            exec_to_ready: start.elapsed(),
            child,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes the child's standard input (it exits), then reaps it.
    pub fn stop(mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An ephemeral loopback port that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The status code of `GET path` over a fresh connection.
pub fn get_status(addr: SocketAddr, path: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP/1.1 status line"))
}
