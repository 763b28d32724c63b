//! The etcd backend against a real etcd: registration with leases, watches, outages,
//! compaction.
//!
//! Needs `/usr/bin/etcd` (Debian package `etcd-server`; `scripts/test.sh` installs it) and the
//! cargo feature `etcd` (`scripts/test.sh` tests with `--all-features`).

#![cfg(feature = "etcd")]
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chassis::config::{DiscoveryBackend, DiscoveryConfig};
use chassis::discovery::{Address, Endpoints, Instance, Registration, Registry};
use common::etcd::Etcd;
use etcd_client::{CompactionOptions, GetOptions};
use tokio::sync::watch;

/// A TCP proxy in front of etcd that the test can cut: while cut, every connection is
/// closed and new ones are refused.
struct Proxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
}

impl Proxy {
    async fn start(upstream: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, _) = watch::channel(false);
        let cuts = cut.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut cut = cuts.subscribe();
                if *cut.borrow_and_update() {
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { addr, cut }
    }

    fn cut(&self) {
        self.cut.send_replace(true);
    }

    fn restore(&self) {
        self.cut.send_replace(false);
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn registry(url: &str) -> Registry {
    let mut config = DiscoveryConfig {
        backend: DiscoveryBackend::Etcd,
        ..DiscoveryConfig::default()
    };
    config.etcd.endpoints = vec![url.to_owned()];
    config.etcd.lease_ttl = Duration::from_secs(2);
    config.etcd.connect_timeout = Duration::from_millis(500);
    config.etcd.request_timeout = Duration::from_secs(1);
    Registry::from_config(&config).unwrap()
}

fn instance(id: &str, port: u16) -> Instance {
    let address: Address = format!("127.0.0.1:{port}").parse().unwrap();
    Instance::new("orders", id, "1.0.0", address)
}

async fn register(registry: &Registry, id: &str, port: u16) -> Registration {
    let registration = registry.register(instance(id, port)).await.unwrap();
    assert!(
        registration.is_registered(),
        "{id} did not register at once"
    );
    registration
}

fn ids(endpoints: &Endpoints) -> Vec<String> {
    endpoints
        .current()
        .iter()
        .filter_map(|e| e.instance_id.clone())
        .collect()
}

/// Polls until `check` holds, failing after `limit`; the time it took.
async fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

/// The lease of an instance's key, `None` when the key is gone.
async fn lease_of(etcd: &Etcd, id: &str) -> Option<i64> {
    let mut client = etcd.client().await;
    let answer = client
        .get(format!("/services/orders/{id}"), None)
        .await
        .unwrap();
    answer.kvs().first().map(etcd_client::KeyValue::lease)
}

#[tokio::test]
async fn registered_instances_are_watched_and_deregistration_removes_them_at_once() {
    let etcd = Etcd::start();
    let callers = registry(&etcd.url());
    let mut orders = callers.discover("orders").unwrap();
    let empty = tokio::time::timeout(Duration::from_secs(5), orders.ready())
        .await
        .unwrap();
    assert!(empty.is_empty());

    let a = register(&registry(&etcd.url()), "orders-a", 18081).await;
    let b = register(&registry(&etcd.url()), "orders-b", 18082).await;
    let took = eventually(
        Duration::from_secs(1),
        "both instances in the watch",
        || ids(&orders) == ["orders-a", "orders-b"],
    )
    .await;
    println!("both visible {took:?} after registering");
    let set = orders.current();
    let a_endpoint = &set.as_slice()[0];
    assert_eq!(a_endpoint.address.to_string(), "127.0.0.1:18081");
    assert_eq!(a_endpoint.version.as_deref(), Some("1.0.0"));

    // The value in etcd is the documented JSON.
    let mut client = etcd.client().await;
    let stored = client.get("/services/orders/orders-a", None).await.unwrap();
    let value = stored.kvs()[0].value_str().unwrap().to_owned();
    assert_eq!(
        value,
        r#"{"address":"127.0.0.1","port":18081,"version":"1.0.0"}"#
    );

    let deregistered = Instant::now();
    a.deregister().await.unwrap();
    eventually(
        Duration::from_millis(500),
        "orders-a gone from the watch",
        || ids(&orders) == ["orders-b"],
    )
    .await;
    println!("deregistration seen after {:?}", deregistered.elapsed());
    assert_eq!(lease_of(&etcd, "orders-a").await, None);
    b.deregister().await.unwrap();
    eventually(Duration::from_millis(500), "orders-b gone", || {
        ids(&orders).is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_killed_instance_is_gone_after_its_lease_ttl() {
    let etcd = Etcd::start();
    let mut orders = registry(&etcd.url()).discover("orders").unwrap();
    let registration = register(&registry(&etcd.url()), "orders-k", 18083).await;
    eventually(Duration::from_secs(1), "registered", || {
        ids(&orders) == ["orders-k"]
    })
    .await;

    // Still there after more than a TTL while kept alive.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(ids(&orders), ["orders-k"], "the keep-alive holds the lease");

    // A hard kill: the keep-alive stops, nobody revokes.
    let killed = Instant::now();
    drop(registration);
    let took = eventually(
        Duration::from_secs(5),
        "the killed instance expired",
        || ids(&orders).is_empty(),
    )
    .await;
    println!("killed instance gone after {:?}", killed.elapsed());
    // The last keep-alive was at most a third of the TTL before the kill.
    assert!(
        took > Duration::from_secs(1),
        "gone after {took:?}: before its lease could expire"
    );
    assert_eq!(orders.ready().await.len(), 0);
    assert_eq!(orders.status().consecutive_failures, 0);
}

#[tokio::test]
async fn an_etcd_outage_keeps_the_last_good_set_and_instances_register_again() {
    let mut etcd = Etcd::start();
    let mut orders = registry(&etcd.url()).discover("orders").unwrap();
    let registration = register(&registry(&etcd.url()), "orders-o", 18084).await;
    eventually(Duration::from_secs(1), "registered", || {
        ids(&orders) == ["orders-o"]
    })
    .await;
    let good = orders.ready().await;
    let old_lease = lease_of(&etcd, "orders-o").await.unwrap();
    let published = orders.watch();

    etcd.stop();
    eventually(Duration::from_secs(5), "the outage noticed", || {
        orders.status().consecutive_failures >= 2 && !registration.is_registered()
    })
    .await;
    // Longer than the lease TTL: the watcher must not drop the instance meanwhile.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(orders.current(), good, "the last good set is kept");
    assert!(
        !published.has_changed().unwrap(),
        "nothing was published during the outage"
    );

    etcd.spawn();
    eventually(Duration::from_secs(10), "registered again", || {
        registration.is_registered()
    })
    .await;
    let new_lease = lease_of(&etcd, "orders-o").await.unwrap();
    assert_ne!(new_lease, old_lease, "registered again on a new lease");
    eventually(Duration::from_secs(10), "the watch resumed", || {
        orders.status().consecutive_failures == 0
    })
    .await;
    assert_eq!(orders.current(), good);

    // The watcher follows changes again, and the new registration is kept alive.
    let late = register(&registry(&etcd.url()), "orders-p", 18085).await;
    eventually(
        Duration::from_secs(1),
        "a new instance after the outage",
        || ids(&orders) == ["orders-o", "orders-p"],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        lease_of(&etcd, "orders-o").await,
        Some(new_lease),
        "the new lease is kept alive"
    );
    registration.deregister().await.unwrap();
    late.deregister().await.unwrap();
    eventually(Duration::from_millis(500), "both deregistered", || {
        ids(&orders).is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_broken_watch_resumes_and_a_compacted_revision_is_listed_again() {
    let etcd = Etcd::start();
    let proxy = Proxy::start(etcd.client_port).await;
    let direct = registry(&etcd.url());
    let orders = registry(&proxy.url()).discover("orders").unwrap();
    let a = register(&direct, "orders-a", 18081).await;
    eventually(Duration::from_secs(2), "orders-a", || {
        ids(&orders) == ["orders-a"]
    })
    .await;

    // Broken watch: changes made meanwhile arrive when it resumes.
    proxy.cut();
    eventually(Duration::from_secs(5), "the broken watch noticed", || {
        orders.status().consecutive_failures >= 1
    })
    .await;
    let b = register(&direct, "orders-b", 18082).await;
    assert_eq!(ids(&orders), ["orders-a"], "nothing seen while cut off");
    proxy.restore();
    eventually(Duration::from_secs(5), "orders-b after resuming", || {
        ids(&orders) == ["orders-a", "orders-b"]
    })
    .await;

    // Compaction: the revision to resume from is gone, so the watcher must list again.
    proxy.cut();
    eventually(Duration::from_secs(5), "the broken watch noticed", || {
        orders.status().consecutive_failures >= 1
    })
    .await;
    a.deregister().await.unwrap();
    let c = register(&direct, "orders-c", 18083).await;
    let mut client = etcd.client().await;
    let revision = client
        .get("/services/orders/", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    client
        .compact(revision, Some(CompactionOptions::new().with_physical()))
        .await
        .unwrap();
    assert_eq!(
        ids(&orders),
        ["orders-a", "orders-b"],
        "the last good set while cut off"
    );
    proxy.restore();
    eventually(
        Duration::from_secs(5),
        "the set listed again after compaction",
        || ids(&orders) == ["orders-b", "orders-c"],
    )
    .await;

    // And it keeps tracking changes.
    b.deregister().await.unwrap();
    eventually(
        Duration::from_secs(1),
        "changes after the re-listing",
        || ids(&orders) == ["orders-c"],
    )
    .await;
    c.deregister().await.unwrap();
}

#[tokio::test]
async fn an_instance_starting_while_etcd_is_down_registers_when_it_comes_up() {
    let mut etcd = Etcd::new();
    let started = Instant::now();
    let registration = registry(&etcd.url())
        .register(instance("orders-late", 18086))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "start-up waited {:?}",
        started.elapsed()
    );
    assert!(!registration.is_registered());

    etcd.spawn();
    let orders = registry(&etcd.url()).discover("orders").unwrap();
    eventually(
        Duration::from_secs(10),
        "registered once etcd is up",
        || ids(&orders) == ["orders-late"],
    )
    .await;
    assert!(registration.is_registered());
    registration.deregister().await.unwrap();
    eventually(Duration::from_millis(500), "deregistered", || {
        ids(&orders).is_empty()
    })
    .await;
}
