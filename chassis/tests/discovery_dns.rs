//! The DNS backend against a real DNS server: dnsmasq on a loopback port, serving SRV and A
//! records from a file the test writes.
//!
//! Needs `/usr/sbin/dnsmasq` (Debian package `dnsmasq`; `scripts/test.sh` installs it).

#![cfg(feature = "dns")]
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chassis::config::{DiscoveryBackend, DiscoveryConfig};
use chassis::discovery::{EndpointSet, Endpoints, Registry};

const DNSMASQ: &str = "/usr/sbin/dnsmasq";

/// dnsmasq in the foreground on a free loopback port, serving `records` for `test.local`
/// (with a TTL of 1 s); killed on drop.
struct Dnsmasq {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Dnsmasq {
    fn start(records: &str) -> Self {
        let binary = Path::new(DNSMASQ);
        assert!(
            binary.exists(),
            "{DNSMASQ} is missing: run scripts/test.sh, which installs the Debian package dnsmasq"
        );
        for _ in 0..5 {
            let mut server = Self {
                child: None,
                port: free_port(),
                dir: tempfile::tempdir().unwrap(),
            };
            server.write(records);
            if server.spawn() {
                return server;
            }
        }
        panic!("dnsmasq did not start on any of 5 free ports");
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("dnsmasq.conf")
    }

    fn hosts(&self) -> PathBuf {
        self.dir.path().join("hosts")
    }

    /// Writes the configuration: `records` are dnsmasq config lines; names under
    /// `test.local` that are not listed answer NXDOMAIN.
    fn write(&self, records: &str) {
        let conf = format!(
            "local=/test.local/\naddn-hosts={}\n{records}\n",
            self.hosts().display()
        );
        std::fs::write(self.conf(), conf).unwrap();
        if !self.hosts().exists() {
            std::fs::write(self.hosts(), "").unwrap();
        }
    }

    /// Replaces the hosts file (re-read on SIGHUP, unlike the configuration).
    fn write_hosts(&self, hosts: &str) {
        std::fs::write(self.hosts(), hosts).unwrap();
    }

    /// Starts dnsmasq on `self.port` and waits until it answers; false if it exited.
    fn spawn(&mut self) -> bool {
        let mut command = Command::new(DNSMASQ);
        command
            .arg("--keep-in-foreground")
            .arg(format!("--port={}", self.port))
            .args(["--listen-address=127.0.0.1", "--bind-interfaces"])
            .args(["--no-resolv", "--no-hosts", "--local-ttl=1", "--pid-file="])
            .arg(format!("--conf-file={}", self.conf().display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if is_root() {
            command.arg("--user=root");
        }
        let child = command.spawn().unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(child) = &mut self.child
                && child.try_wait().unwrap().is_some()
            {
                self.child = None;
                return false;
            }
            if answers(self.port) {
                return true;
            }
        }
        panic!("dnsmasq on port {} did not answer within 5 s", self.port);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops, writes new records, starts again on the same port.
    fn restart(&mut self, records: &str) {
        self.stop();
        self.write(records);
        assert!(
            self.spawn(),
            "dnsmasq did not start again on port {}",
            self.port
        );
    }

    /// SIGHUP: dnsmasq clears its cache and re-reads the hosts file.
    fn reload(&self) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let status = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(status.success());
    }

    fn nameserver(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.stop();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|line| line.starts_with("Uid:") && line.split_whitespace().nth(1) == Some("0"))
}

/// A port free for both UDP and TCP on loopback (dnsmasq binds both).
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Whether a DNS server answers on `port` (one SRV query, 100 ms).
fn answers(port: u16) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["probe", "test", "local"] {
        query.push(u8::try_from(label.len()).unwrap());
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 33, 0, 1]);
    let server: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut buf = [0; 512];
    socket.send_to(&query, server).is_ok() && socket.recv(&mut buf).is_ok()
}

fn config(server: &Dnsmasq, port: Option<u16>) -> DiscoveryConfig {
    let mut config = DiscoveryConfig {
        backend: DiscoveryBackend::Dns,
        ..DiscoveryConfig::default()
    };
    config.dns.domain = Some("test.local".to_owned());
    config.dns.port = port;
    config.dns.nameservers = vec![server.nameserver()];
    config.dns.min_refresh = Duration::from_millis(200);
    config.dns.max_refresh = Duration::from_secs(2);
    config.dns.timeout = Duration::from_millis(500);
    config
}

/// `orders` discovered through `server`, its first resolved set, and the registry (kept
/// alive by the caller for the whole test).
async fn discover_orders(server: &Dnsmasq) -> (Registry, Endpoints, EndpointSet) {
    let registry = Registry::from_config(&config(server, None)).unwrap();
    let mut orders = registry.discover("orders").unwrap();
    let set = tokio::time::timeout(Duration::from_secs(5), orders.ready())
        .await
        .unwrap();
    (registry, orders, set)
}

fn addresses(set: &EndpointSet) -> Vec<String> {
    set.iter().map(|e| e.address.to_string()).collect()
}

/// Polls `endpoints` until `check` holds, failing after `limit`.
async fn eventually(
    endpoints: &Endpoints,
    limit: Duration,
    what: &str,
    check: impl Fn(&Endpoints) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !check(endpoints) {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {limit:?}; set {:?}, status {:?}",
            addresses(&endpoints.current()),
            endpoints.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const ORDERS: &str = "\
srv-host=_http._tcp.orders.test.local,orders-1.test.local,8081,0,10
srv-host=_http._tcp.orders.test.local,orders-2.test.local,8082,1,20
host-record=orders-1.test.local,127.0.0.11
host-record=orders-2.test.local,127.0.0.12
host-record=catalog.test.local,127.0.0.21
host-record=catalog.test.local,127.0.0.22";

#[tokio::test]
async fn srv_records_resolve_to_their_targets_and_ports() {
    let server = Dnsmasq::start(ORDERS);
    let (_registry, orders, set) = discover_orders(&server).await;
    assert_eq!(addresses(&set), ["127.0.0.11:8081", "127.0.0.12:8082"]);
    let second = &set.as_slice()[1];
    assert_eq!(second.metadata["target"], "orders-2.test.local");
    assert_eq!(second.metadata["priority"], "1");
    assert_eq!(second.metadata["weight"], "20");
    assert_eq!(orders.status().total_failures, 0);
}

#[tokio::test]
async fn without_srv_the_a_records_take_the_configured_port() {
    let server = Dnsmasq::start(ORDERS);
    let registry = Registry::from_config(&config(&server, Some(9000))).unwrap();
    let mut catalog = registry.discover("catalog").unwrap();
    let set = tokio::time::timeout(Duration::from_secs(5), catalog.ready())
        .await
        .unwrap();
    assert_eq!(addresses(&set), ["127.0.0.21:9000", "127.0.0.22:9000"]);

    // A name that does not exist at all is an answer too: no instances.
    let mut missing = registry.discover("missing").unwrap();
    let set = tokio::time::timeout(Duration::from_secs(5), missing.ready())
        .await
        .unwrap();
    assert!(set.is_empty());

    // Without SRV and without a port there is nothing to publish: an error, no set.
    let registry = Registry::from_config(&config(&server, None)).unwrap();
    let catalog = registry.discover("catalog").unwrap();
    eventually(
        &catalog,
        Duration::from_secs(5),
        "the missing port reported",
        |e| e.status().total_failures > 0,
    )
    .await;
    assert!(!catalog.current().is_resolved());
    assert!(
        catalog
            .status()
            .last_error
            .unwrap()
            .contains("discovery.dns.port is unset")
    );
}

#[tokio::test]
async fn a_changed_srv_record_is_seen_after_the_ttl() {
    let mut server = Dnsmasq::start(ORDERS);
    let (_registry, orders, set) = discover_orders(&server).await;
    assert_eq!(addresses(&set), ["127.0.0.11:8081", "127.0.0.12:8082"]);

    // orders-2 moves to another port, orders-3 appears, orders-1 goes.
    server.restart(
        "srv-host=_http._tcp.orders.test.local,orders-2.test.local,9092,0,10
srv-host=_http._tcp.orders.test.local,orders-3.test.local,8083,0,10
host-record=orders-2.test.local,127.0.0.12
host-record=orders-3.test.local,127.0.0.13",
    );
    let changed = Instant::now();
    let expected = ["127.0.0.12:9092", "127.0.0.13:8083"];
    eventually(&orders, Duration::from_secs(5), "the new SRV set", |e| {
        addresses(&e.current()) == expected
    })
    .await;
    // TTL 1 s, plus at most one failed lookup while dnsmasq restarted.
    assert!(
        changed.elapsed() < Duration::from_secs(4),
        "took {:?}",
        changed.elapsed()
    );
}

#[tokio::test]
async fn a_changed_a_record_is_seen_after_the_ttl() {
    let server = Dnsmasq::start("");
    server.write_hosts("127.0.0.31 search.test.local\n");
    server.reload();
    let registry = Registry::from_config(&config(&server, Some(7000))).unwrap();
    let mut search = registry.discover("search").unwrap();
    eventually(&search, Duration::from_secs(5), "the first A record", |e| {
        addresses(&e.current()) == ["127.0.0.31:7000"]
    })
    .await;
    search.ready().await; // marks the current set as seen

    server.write_hosts("127.0.0.31 search.test.local\n127.0.0.32 search.test.local\n");
    server.reload();
    let changed = Instant::now();
    let set = tokio::time::timeout(Duration::from_secs(5), search.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(addresses(&set), ["127.0.0.31:7000", "127.0.0.32:7000"]);
    assert!(
        changed.elapsed() < Duration::from_secs(3),
        "took {:?}",
        changed.elapsed()
    );
    assert_eq!(search.status().total_failures, 0);
}

#[tokio::test]
async fn a_failed_lookup_keeps_the_last_good_set() {
    let mut server = Dnsmasq::start(ORDERS);
    let (_registry, orders, good) = discover_orders(&server).await;
    assert_eq!(good.len(), 2);
    let watch = orders.watch();

    server.stop();
    eventually(&orders, Duration::from_secs(10), "a failed lookup", |e| {
        e.status().consecutive_failures >= 2
    })
    .await;
    assert_eq!(orders.current(), good, "the last good set is kept");
    assert!(
        !watch.has_changed().unwrap(),
        "nothing was published while DNS was down"
    );

    server.restart(ORDERS);
    eventually(&orders, Duration::from_secs(10), "recovery", |e| {
        e.status().consecutive_failures == 0
    })
    .await;
    assert_eq!(orders.current(), good);
}
