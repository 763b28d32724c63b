//! Live configuration against real files, real signals and real loopback servers: a change
//! through each source takes effect on the next call, an invalid one is refused whole, a
//! client reconfigured under load loses no call, breakers obey the admin endpoint, and the
//! effective configuration shows sources and never a secret.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chassis::client::ClientErrorKind;
use chassis::config::Secret;
use chassis::service::{Context, Launcher, Microservice, ServiceHandle};
use common::live::{TOKEN, admin, config_file, write};
use common::{Reply, eventually};
use http::{Method, StatusCode};
use serde::Deserialize;

/// The service's own keys at the top of its `default.toml`.
const HEAD: &str = r#"greeting = "hello""#;

const DSN: &str = "hunter2-the-dsn";
const WAIT: Duration = Duration::from_secs(10);

/// The service under test: it calls `upstream` and greets with its live settings.
struct Live;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LiveConfig {
    greeting: String,
    db: Db,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Db {
    /// A secret under a key that does not say so.
    dsn: Option<Secret<String>>,
}

impl Microservice for Live {
    type Config = LiveConfig;
    const NAME: &'static str = "live-test";
    const VERSION: &'static str = "0.1.0";

    async fn router(ctx: Context<LiveConfig>) -> Result<Router, tower::BoxError> {
        ctx.client("upstream")?;
        let settings = ctx.watch_config();
        let at_start = ctx.config().greeting.clone();
        Ok(Router::new()
            .route(
                "/greeting",
                get(move || std::future::ready(settings.current().greeting.clone())),
            )
            .route(
                "/greeting-at-start",
                get(move || std::future::ready(at_start.clone())),
            )
            .route(
                "/later",
                get(move || async move {
                    // A client first made now, after any reloads.
                    let reply = match ctx.client("later") {
                        Ok(client) => client.get("/slow").send().await,
                        Err(error) => return format!("not built: {error}"),
                    };
                    match reply {
                        Ok(reply) => reply.text().await.unwrap_or_default(),
                        Err(error) => format!("failed: {:?}", error.kind()),
                    }
                }),
            ))
    }
}

/// A loopback upstream answering its name after a delay (`/slow`) or failing (`/fail`).
struct Upstream {
    addr: SocketAddr,
    delay_ms: Arc<AtomicU64>,
    hits: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct UpstreamState {
    name: &'static str,
    delay_ms: Arc<AtomicU64>,
    hits: Arc<AtomicUsize>,
}

impl Upstream {
    async fn start(name: &'static str, delay_ms: u64) -> Self {
        let state = UpstreamState {
            name,
            delay_ms: Arc::new(AtomicU64::new(delay_ms)),
            hits: Arc::new(AtomicUsize::new(0)),
        };
        let app = Router::new()
            .route(
                "/slow",
                get(|State(s): State<UpstreamState>| async move {
                    s.hits.fetch_add(1, Ordering::SeqCst);
                    let delay = s.delay_ms.load(Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    s.name
                }),
            )
            .route(
                "/fail",
                get(|State(s): State<UpstreamState>| async move {
                    s.hits.fetch_add(1, Ordering::SeqCst);
                    StatusCode::INTERNAL_SERVER_ERROR
                }),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            delay_ms: state.delay_ms,
            hits: state.hits,
        }
    }
}

/// How a source names the file `default.toml` of `dir`: its path's end (the path is
/// relative to the working directory).
fn in_dir(dir: &Path) -> String {
    let name = dir.file_name().unwrap().to_string_lossy();
    format!("{name}/default.toml")
}

/// Starts the service reading `dir`; SIGHUP is left to the test that sends it (a signal
/// reaches every service of the process).
async fn start(dir: &Path, launcher: Launcher<Live>) -> ServiceHandle {
    launcher
        .set_default("reload.sighup", false)
        .dir(dir)
        .set("server.host", "127.0.0.1")
        .set("server.port", 0)
        .set("server.admin_port", 0)
        .set("server.admin_token", TOKEN)
        .set("shutdown.drain_delay", "0s")
        .spawn()
        .await
        .unwrap()
}

async fn call(handle: &ServiceHandle, path: &'static str) -> Result<String, ClientErrorKind> {
    let client = handle.clients().get("upstream").unwrap();
    let reply = client.get(path).send().await.map_err(|e| e.kind())?;
    reply.text().await.map_err(|e| e.kind())
}

fn effective(handle: &ServiceHandle, key: &str) -> serde_json::Value {
    handle.reload_handle().effective().keys[key].value.clone()
}

async fn reload(handle: &ServiceHandle) -> Reply {
    admin(handle, Method::POST, "/admin/config/reload", None, true).await
}

#[tokio::test]
async fn a_timeout_loosened_in_a_watched_file_takes_effect_on_the_next_call() {
    let upstream = Upstream::start("a", 300).await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &config_file(HEAD, upstream.addr, "100ms", ""));
    let handle = start(dir.path(), Launcher::new().unwrap()).await;
    assert_eq!(call(&handle, "/slow").await, Err(ClientErrorKind::Timeout));

    write(dir.path(), &config_file(HEAD, upstream.addr, "5s", ""));
    eventually(WAIT, "the file's new timeout", || async {
        effective(&handle, "clients.upstream.timeout") == "5s"
    })
    .await;
    assert_eq!(call(&handle, "/slow").await.as_deref(), Ok("a"));
    handle.shutdown().await;
}

#[tokio::test]
async fn a_timeout_loosened_in_a_file_takes_effect_after_sighup() {
    let upstream = Upstream::start("a", 300).await;
    let dir = tempfile::tempdir().unwrap();
    let unwatched = "[reload]\nwatch_files = false\nsighup = true\n";
    let text = config_file(HEAD, upstream.addr, "100ms", "").replace("[reload]\n", unwatched);
    write(dir.path(), &text);
    let handle = start(dir.path(), Launcher::new().unwrap()).await;
    assert_eq!(call(&handle, "/slow").await, Err(ClientErrorKind::Timeout));

    let text = config_file(HEAD, upstream.addr, "5s", "").replace("[reload]\n", unwatched);
    write(dir.path(), &text);
    let me = rustix::process::getpid();
    rustix::process::kill_process(me, rustix::process::Signal::HUP).unwrap();
    eventually(WAIT, "the timeout re-read on SIGHUP", || async {
        effective(&handle, "clients.upstream.timeout") == "5s"
    })
    .await;
    assert_eq!(call(&handle, "/slow").await.as_deref(), Ok("a"));
    handle.shutdown().await;
}

#[tokio::test]
async fn an_invalid_change_is_refused_whole_and_the_old_configuration_keeps_working() {
    let upstream = Upstream::start("a", 200).await;
    let dir = tempfile::tempdir().unwrap();
    let good = config_file(HEAD, upstream.addr, "5s", "");
    write(dir.path(), &good);
    let mut launcher = Launcher::new().unwrap();
    launcher = launcher.set("reload.watch_files", false);
    let handle = start(dir.path(), launcher).await;
    assert_eq!(call(&handle, "/slow").await.as_deref(), Ok("a"));

    // A valid change (attempts) beside two invalid ones: nothing of it applies.
    let bad = config_file(
        HEAD,
        upstream.addr,
        "banana",
        "[clients.upstream.breaker]\nfailure_rate_threshold = 500.0\n",
    )
    .replace("max_attempts = 1", "max_attempts = 2");
    write(dir.path(), &bad);
    let refused = reload(&handle).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let report = refused.json();
    assert_eq!(report["result"], "refused");
    let keys: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "clients.upstream.breaker.failure_rate_threshold",
            "clients.upstream.timeout"
        ],
        "{report}"
    );
    let file = in_dir(dir.path());
    for problem in report["problems"].as_array().unwrap() {
        let source = problem["source"].as_str().unwrap();
        assert!(source.ends_with(&file), "{report}");
    }
    assert_eq!(effective(&handle, "clients.upstream.timeout"), "5s");
    assert_eq!(effective(&handle, "clients.upstream.retry.max_attempts"), 1);
    assert_eq!(call(&handle, "/slow").await.as_deref(), Ok("a"));

    // A file that does not parse is refused too, naming the file.
    write(
        dir.path(),
        &good.replace("timeout = \"5s\"", "timeout = \"5s"),
    );
    let refused = reload(&handle).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.json()["error"].as_str().unwrap().contains(&file));
    assert_eq!(call(&handle, "/slow").await.as_deref(), Ok("a"));

    // Valid again: applied; the same again: unchanged.
    write(
        dir.path(),
        &good.replace("max_attempts = 1", "max_attempts = 2"),
    );
    let applied = reload(&handle).await.json();
    assert_eq!(applied["result"], "applied", "{applied}");
    assert_eq!(applied["changed"][0], "clients.upstream.retry.max_attempts");
    assert_eq!(reload(&handle).await.json()["result"], "unchanged");

    // Counted by result (the other tests' services have the same name).
    let metrics = admin(&handle, Method::GET, "/metrics", None, false)
        .await
        .text();
    let count = |result: &str| -> u64 {
        let label = format!("result=\"{result}\"");
        metrics
            .lines()
            .find(|l| l.starts_with("chassis_config_reloads_total") && l.contains(&label))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {label} in\n{metrics}"))
    };
    assert!(count("refused") >= 2);
    assert!(count("applied") >= 1 && count("unchanged") >= 1);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_reconfigured_under_steady_load_loses_no_call() {
    let upstream = Upstream::start("a", 5).await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &config_file(HEAD, upstream.addr, "5s", ""));
    let launcher = Launcher::new().unwrap().set("reload.watch_files", false);
    let handle = Arc::new(start(dir.path(), launcher).await);

    let callers: Vec<_> = (0..8)
        .map(|_| {
            let handle = Arc::clone(&handle);
            tokio::spawn(async move {
                let mut failures = Vec::new();
                for _ in 0..40 {
                    if let Err(kind) = call(&handle, "/slow").await {
                        failures.push(kind);
                    }
                }
                failures
            })
        })
        .collect();
    for round in 0..12 {
        let (timeout, threshold, size) = match round % 3 {
            0 => ("4s", "60.0", 100),
            1 => ("5s", "50.0", 100),
            _ => ("6s", "70.0", 50),
        };
        let extra = format!(
            "[clients.upstream.breaker]\nfailure_rate_threshold = {threshold}\n\
             window = {{ kind = \"count\", size = {size} }}\n\
             [clients.upstream.outlier]\nfailure_rate_threshold = {threshold}\n"
        );
        write(
            dir.path(),
            &config_file(HEAD, upstream.addr, timeout, &extra),
        );
        let report = reload(&handle).await.json();
        assert_eq!(report["result"], "applied", "{report}");
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    for caller in callers {
        assert_eq!(caller.await.unwrap(), [], "calls lost while reconfiguring");
    }
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 8 * 40);
    Arc::into_inner(handle).unwrap().shutdown().await;
}

#[tokio::test]
async fn a_breaker_keeps_its_state_unless_its_window_changes() {
    let upstream = Upstream::start("a", 0).await;
    let dir = tempfile::tempdir().unwrap();
    let breaker = |threshold: &str, size: u32| {
        format!(
            "[clients.upstream.breaker]\nminimum_calls = 10\nfailure_rate_threshold = {threshold}\n\
             window = {{ kind = \"count\", size = {size} }}\n"
        )
    };
    write(
        dir.path(),
        &config_file(HEAD, upstream.addr, "5s", &breaker("50.0", 20)),
    );
    let launcher = Launcher::new().unwrap().set("reload.watch_files", false);
    let handle = start(dir.path(), launcher).await;
    for _ in 0..4 {
        assert_eq!(call(&handle, "/fail").await, Err(ClientErrorKind::Status));
    }
    let failed = |reply: Reply| reply.json()["failed_calls"].clone();
    let get = || admin(&handle, Method::GET, "/admin/breakers/upstream", None, true);
    assert_eq!(failed(get().await), 4);

    write(
        dir.path(),
        &config_file(HEAD, upstream.addr, "5s", &breaker("80.0", 20)),
    );
    assert_eq!(reload(&handle).await.json()["result"], "applied");
    assert_eq!(failed(get().await), 4, "a new threshold keeps the window");

    write(
        dir.path(),
        &config_file(HEAD, upstream.addr, "5s", &breaker("80.0", 30)),
    );
    assert_eq!(reload(&handle).await.json()["result"], "applied");
    assert_eq!(failed(get().await), 0, "a new window starts empty");
    handle.shutdown().await;
}

#[tokio::test]
async fn a_breaker_forced_open_by_an_operator_refuses_calls_until_released() {
    let upstream = Upstream::start("a", 0).await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &config_file(HEAD, upstream.addr, "5s", ""));
    let launcher = Launcher::new().unwrap().set("reload.watch_files", false);
    let handle = start(dir.path(), launcher).await;
    assert_eq!(call(&handle, "/slow").await.as_deref(), Ok("a"));
    let path = "/admin/breakers/upstream";

    let open = Some(r#"{"state": "forced_open"}"#);
    let refused = admin(&handle, Method::PUT, path, open, false).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&handle, "/slow").await.as_deref(), Ok("a"));

    let forced = admin(&handle, Method::PUT, path, open, true).await;
    assert_eq!(forced.status, StatusCode::OK);
    assert_eq!(forced.json()["state"], "forced_open");
    let hits = upstream.hits.load(Ordering::SeqCst);
    assert_eq!(
        call(&handle, "/slow").await,
        Err(ClientErrorKind::BreakerOpen)
    );
    assert_eq!(
        upstream.hits.load(Ordering::SeqCst),
        hits,
        "no call went out"
    );
    let listed = admin(&handle, Method::GET, "/admin/breakers", None, true).await;
    assert_eq!(listed.json()[0]["state"], "forced_open");
    assert!(listed.json()[0]["rejected_calls"].as_u64().unwrap() >= 1);

    // A reload that builds a new breaker (another window) keeps the operator's override.
    let window = "[clients.upstream.breaker]\nwindow = { kind = \"count\", size = 30 }\n";
    write(dir.path(), &config_file(HEAD, upstream.addr, "5s", window));
    assert_eq!(reload(&handle).await.json()["result"], "applied");
    assert_eq!(
        call(&handle, "/slow").await,
        Err(ClientErrorKind::BreakerOpen)
    );

    let bad = admin(
        &handle,
        Method::PUT,
        path,
        Some(r#"{"state": "ajar"}"#),
        true,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let unknown = admin(&handle, Method::GET, "/admin/breakers/nope", None, true).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let closed = Some(r#"{"state": "closed"}"#);
    let released = admin(&handle, Method::PUT, path, closed, true).await;
    assert_eq!(released.json()["state"], "closed");
    assert_eq!(call(&handle, "/slow").await.as_deref(), Ok("a"));

    let clients = admin(&handle, Method::GET, "/admin/clients", None, true)
        .await
        .json();
    assert_eq!(clients[0]["name"], "upstream");
    assert_eq!(
        clients[0]["endpoints"][0]["address"],
        upstream.addr.to_string()
    );
    assert_eq!(clients[0]["endpoints"][0]["ejected"], false);
    handle.shutdown().await;
}

#[tokio::test]
async fn the_effective_configuration_shows_sources_and_never_a_secret() {
    let upstream = Upstream::start("a", 0).await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &config_file(HEAD, upstream.addr, "5s", ""));
    let env = [
        ("LIVE_TEST__DB__DSN".to_owned(), DSN.to_owned()),
        ("LIVE_TEST__GREETING".to_owned(), "hi from env".to_owned()),
    ];
    let launcher = Launcher::new()
        .unwrap()
        .env(env)
        .set("reload.watch_files", false);
    let handle = start(dir.path(), launcher).await;

    let unauthorized = admin(&handle, Method::GET, "/admin/config", None, false).await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
    let reply = admin(&handle, Method::GET, "/admin/config", None, true).await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = reply.text();
    assert!(!text.contains(TOKEN) && !text.contains(DSN), "{text}");
    let keys = &reply.json()["keys"];
    let file = in_dir(dir.path());
    let source = |key: &str| keys[key]["source"].as_str().unwrap().to_owned();
    let timeout = source("clients.upstream.timeout");
    assert!(
        timeout.starts_with("file ") && timeout.ends_with(&file),
        "{timeout}"
    );
    let expect = [
        (
            "greeting",
            "hi from env",
            "environment variable LIVE_TEST__GREETING",
        ),
        ("db.dsn", "***", "environment variable LIVE_TEST__DB__DSN"),
        ("server.admin_token", "***", "override server.admin_token"),
        ("server.host", "127.0.0.1", "override server.host"),
        ("shutdown.grace_period", "20s", "built-in defaults"),
    ];
    for (key, value, source) in expect {
        assert_eq!(keys[key]["value"], value, "{key}");
        assert_eq!(keys[key]["source"], source, "{key}");
    }

    // A key that needs a restart: reported, shown pending, its running value kept.
    let restart = config_file(HEAD, upstream.addr, "5s", "[server]\nmax_headers = 50\n");
    write(dir.path(), &restart);
    let report = reload(&handle).await.json();
    assert_eq!(report["result"], "needs_restart", "{report}");
    assert_eq!(report["needs_restart"][0], "server.max_headers");
    let now = admin(&handle, Method::GET, "/admin/config", None, true)
        .await
        .json();
    assert_eq!(now["keys"]["server.max_headers"]["value"], 100);
    assert_eq!(now["pending_restart"]["server.max_headers"]["value"], 50);
    let pending = now["pending_restart"]["server.max_headers"]["source"].to_string();
    assert!(pending.ends_with(&format!("{file}\"")), "{pending}");
    handle.shutdown().await;
}

#[tokio::test]
async fn the_services_own_settings_faults_log_level_and_static_lists_change_live() {
    let a = Upstream::start("a", 0).await;
    let b = Upstream::start("b", 0).await;
    let dir = tempfile::tempdir().unwrap();
    let faults = "[faults]\nenabled = true\nerror_rate = 0.0\n";
    write(dir.path(), &config_file(HEAD, a.addr, "5s", faults));
    let launcher = Launcher::new().unwrap().set("reload.watch_files", false);
    let handle = start(dir.path(), launcher).await;
    let greeting = || common::get(handle.addr(), "/greeting");
    assert_eq!(greeting().await.text(), "hello");
    assert_eq!(call(&handle, "/slow").await.as_deref(), Ok("a"));

    let text = config_file(HEAD, b.addr, "5s", &faults.replace("0.0", "1.0"))
        .replace("greeting = \"hello\"", "greeting = \"bonjour\"")
        .replace("level = \"warn\"", "level = \"warn,chassis=info\"");
    write(dir.path(), &text);
    let report = reload(&handle).await.json();
    assert_eq!(report["result"], "applied", "{report}");
    let changed: Vec<&str> = report["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    // With RUST_LOG set, it wins over telemetry.log.level, which is then not live.
    let rust_log = std::env::var_os("RUST_LOG").is_some_and(|v| !v.is_empty());
    let mut expected = vec!["discovery.static.upstream", "faults.error_rate", "greeting"];
    if !rust_log {
        expected.push("telemetry.log.level");
    }
    assert_eq!(changed, expected, "{report}");
    assert_eq!(greeting().await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(call(&handle, "/slow").await.as_deref(), Ok("b"));
    if std::env::var_os("RUST_LOG").is_none() {
        let level = admin(&handle, Method::GET, "/admin/log-level", None, true).await;
        assert_eq!(level.text(), "chassis=info,warn");
    }
    let _ = a.delay_ms.load(Ordering::SeqCst);

    write(dir.path(), &text.replace("1.0", "0.0"));
    assert_eq!(reload(&handle).await.json()["result"], "applied");
    assert_eq!(greeting().await.text(), "bonjour");
    assert_eq!(
        common::get(handle.addr(), "/greeting-at-start")
            .await
            .text(),
        "hello"
    );
    handle.shutdown().await;
}

#[cfg(feature = "etcd")]
#[tokio::test]
async fn a_timeout_loosened_in_etcd_takes_effect_on_the_next_call() {
    let etcd = common::etcd::Etcd::start();
    let mut kv = etcd.client().await;
    let key = "/config/live-test/clients/upstream/timeout";
    kv.put(key, "100ms", None).await.unwrap();
    let upstream = Upstream::start("a", 300).await;
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "[reload]\netcd_prefix = \"/config/live-test/\"\netcd_endpoints = [\"{}\"]\n",
        etcd.url()
    );
    let text = config_file(HEAD, upstream.addr, "5s", "").replace("[reload]\n", &source);
    write(dir.path(), &text);
    let launcher = Launcher::new().unwrap().set("reload.watch_files", false);
    let handle = start(dir.path(), launcher).await;
    // etcd wins over the file.
    let keys = handle.reload_handle().effective();
    assert_eq!(keys.keys["clients.upstream.timeout"].value, "100ms");
    assert_eq!(
        keys.keys["clients.upstream.timeout"].source,
        format!("etcd key {key}")
    );
    assert_eq!(call(&handle, "/slow").await, Err(ClientErrorKind::Timeout));

    kv.put(key, "5s", None).await.unwrap();
    eventually(WAIT, "the timeout from etcd", || async {
        effective(&handle, "clients.upstream.timeout") == "5s"
    })
    .await;
    assert_eq!(call(&handle, "/slow").await.as_deref(), Ok("a"));

    // An invalid value in etcd is refused whole, naming its key; the old one keeps working.
    kv.put(key, "banana", None).await.unwrap();
    let mut refused = serde_json::Value::Null;
    for _ in 0..500 {
        let reply = reload(&handle).await;
        if reply.status == StatusCode::UNPROCESSABLE_ENTITY {
            refused = reply.json();
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(refused["problems"][0]["source"], format!("etcd key {key}"));
    assert_eq!(effective(&handle, "clients.upstream.timeout"), "5s");
    assert_eq!(call(&handle, "/slow").await.as_deref(), Ok("a"));

    // A deleted key falls back to the file; with etcd gone, the last values read stay.
    kv.put(key, "3s", None).await.unwrap();
    kv.delete(key, None).await.unwrap();
    eventually(WAIT, "the file's timeout again", || async {
        let now = handle.reload_handle().effective();
        let timeout = &now.keys["clients.upstream.timeout"];
        timeout.value == "5s" && timeout.source.starts_with("file ")
    })
    .await;
    drop(etcd);
    assert_eq!(reload(&handle).await.json()["result"], "unchanged");
    assert_eq!(call(&handle, "/slow").await.as_deref(), Ok("a"));
    handle.shutdown().await;
}

#[cfg(feature = "etcd")]
#[tokio::test]
async fn an_unreachable_etcd_prefix_fails_start_up() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", free.local_addr().unwrap().port());
    drop(free);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "");
    let error = Launcher::<Live>::new()
        .unwrap()
        .dir(dir.path())
        .set("server.port", 0)
        .set("reload.etcd_prefix", "/config/live-test/")
        .set("reload.etcd_endpoints", &url)
        .set("discovery.etcd.connect_timeout", "200ms")
        .set("discovery.etcd.request_timeout", "500ms")
        .spawn()
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("cannot read configuration from etcd prefix /config/live-test/"),
        "{text}"
    );
}

/// A key that needs a restart is reported as such, and no longer once it is back at the value
/// the service runs with; TLS files that the next start could not use refuse the reload.
#[tokio::test]
async fn restart_keys_are_judged_against_what_runs_and_unusable_tls_files_are_refused() {
    let upstream = Upstream::start("a", 0).await;
    let dir = tempfile::tempdir().unwrap();
    let good = config_file(HEAD, upstream.addr, "5s", "");
    write(dir.path(), &good);
    let launcher = Launcher::new().unwrap().set("reload.watch_files", false);
    let handle = start(dir.path(), launcher).await;

    write(
        dir.path(),
        &format!("{good}\n[shutdown]\ngrace_period = \"7s\"\n"),
    );
    let report = reload(&handle).await.json();
    assert_eq!(report["result"], "needs_restart", "{report}");
    assert_eq!(
        report["needs_restart"][0], "shutdown.grace_period",
        "{report}"
    );
    let config = admin(&handle, Method::GET, "/admin/config", None, true)
        .await
        .json();
    assert!(
        config["pending_restart"]["shutdown.grace_period"].is_object(),
        "{config}"
    );
    write(dir.path(), &good);
    let report = reload(&handle).await.json();
    assert_eq!(report["result"], "unchanged", "back to what runs: {report}");
    assert_eq!(report["needs_restart"].as_array().unwrap().len(), 0);
    let config = admin(&handle, Method::GET, "/admin/config", None, true)
        .await
        .json();
    assert_eq!(config["pending_restart"], serde_json::json!({}), "{config}");

    let missing = dir.path().join("no-such-ca.pem");
    let tls = format!(
        "{good}\n[clients.upstream.tls]\nenabled = true\nca_file = \"{}\"\n",
        missing.display()
    );
    write(dir.path(), &tls);
    let refused = reload(&handle).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let report = refused.json();
    assert_eq!(report["result"], "refused", "{report}");
    assert!(
        report["problems"][0]["key"]
            .as_str()
            .unwrap()
            .starts_with("clients.upstream.tls."),
        "{report}"
    );
    assert!(
        report["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("tls.ca_file"),
        "{report}"
    );
    assert_eq!(call(&handle, "/slow").await.as_deref(), Ok("a"));

    // A client first made after a reload changed its url (a restart key) is built as the
    // service started: found through discovery, not at the new url.
    let upstream_line = format!("upstream = [\"{}\"]", upstream.addr);
    let later = good.replacen(
        &upstream_line,
        &format!("{upstream_line}\nlater = [\"{}\"]", upstream.addr),
        1,
    );
    write(dir.path(), &later);
    assert_eq!(reload(&handle).await.json()["result"], "applied");
    write(
        dir.path(),
        &format!("{later}\n[clients.later]\nurl = \"http://127.0.0.1:9\"\n"),
    );
    let report = reload(&handle).await.json();
    assert_eq!(report["needs_restart"][0], "clients.later.url", "{report}");
    let answer = common::get(handle.addr(), "/later").await;
    assert_eq!(
        answer.body, "a",
        "built with the url the service started without"
    );
    handle.shutdown().await;
}
