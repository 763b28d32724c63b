//! [`Network`]: the cluster's in-process registry. Instances register with it through the
//! runtime's ordinary discovery seam; callers discover through it and are handed, for each
//! callee instance, the address of that link's [`Proxy`] ([`Wiring::Proxied`]) or the
//! instance's own ([`Wiring::Direct`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::fault::FaultCell;
use super::proxy::Proxy;
use crate::discovery::{
    BoxFuture, Deregister, Discover, DiscoveryError, Endpoint, EndpointSet, Endpoints, Instance,
    Publisher, Register, Registration, Registry,
};

/// The backend name in discovery metrics and logs.
const BACKEND: &str = "test-cluster";

/// What a caller is handed for each instance of a callee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wiring {
    /// The address of a TCP proxy per link and instance, where faults are switched.
    Proxied,
    /// The instance's own address: no proxy, no fault (a demo, or a simulated network
    /// whose faults are the simulator's).
    Direct,
}

/// The services of one cluster, their registered instances and the links between them.
#[derive(Debug)]
pub(crate) struct Network {
    state: Mutex<State>,
    wiring: Wiring,
    /// Bumped at every registration and deregistration, for waiters.
    generation: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct State {
    /// Every service of the cluster, started or not.
    services: BTreeSet<String>,
    /// Registered instances: service -> instance id -> address.
    registered: BTreeMap<String, BTreeMap<String, SocketAddr>>,
    /// Links by (caller, callee).
    links: BTreeMap<(String, String), LinkState>,
}

#[derive(Debug)]
struct LinkState {
    fault: Arc<FaultCell>,
    publisher: Publisher,
    endpoints: Endpoints,
    /// A proxy per callee instance, registered or stopping (until [`Network::forget`]).
    proxies: BTreeMap<String, Proxy>,
}

impl Network {
    pub(crate) fn new(services: impl IntoIterator<Item = String>, wiring: Wiring) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                services: services.into_iter().collect(),
                ..State::default()
            }),
            wiring,
            generation: watch::channel(0).0,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `service` is one of the cluster's.
    pub(crate) fn knows(&self, service: &str) -> bool {
        self.state().services.contains(service)
    }

    /// The registry an instance of `caller` is started with.
    pub(crate) fn registry_for(self: &Arc<Self>, caller: &str) -> Registry {
        let view = CallerView {
            caller: caller.to_owned(),
            network: self.clone(),
        };
        Registry::new(BACKEND, view.clone(), view)
    }

    /// The fault cell of the link `caller -> callee`, made on first use.
    pub(crate) fn fault(&self, caller: &str, callee: &str) -> Arc<FaultCell> {
        let mut state = self.state();
        state.link(caller, callee, self.wiring).fault.clone()
    }

    /// Whether the instance `instance_id` of `service` is registered.
    pub(crate) fn is_registered(&self, service: &str, instance_id: &str) -> bool {
        self.state()
            .registered
            .get(service)
            .is_some_and(|instances| instances.contains_key(instance_id))
    }

    /// A receiver that changes at every (de)registration.
    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Drops the proxies of an instance that has stopped.
    pub(crate) fn forget(&self, service: &str, instance_id: &str) {
        let mut state = self.state();
        for ((_, callee), link) in &mut state.links {
            if callee == service {
                link.proxies.remove(instance_id);
            }
        }
    }

    fn register(&self, instance: &Instance) -> Result<(), DiscoveryError> {
        let address = instance
            .address
            .to_socket_addr()
            .ok_or_else(|| DiscoveryError::Config {
                key: "advertise".to_owned(),
                message: format!(
                    "a test cluster needs an IP address, not {}",
                    instance.address
                ),
            })?;
        let mut state = self.state();
        state
            .registered
            .entry(instance.name.clone())
            .or_default()
            .insert(instance.instance_id.clone(), address);
        state.republish(&instance.name, self.wiring);
        drop(state);
        self.generation.send_modify(|generation| *generation += 1);
        Ok(())
    }

    fn deregister(&self, service: &str, instance_id: &str) {
        let mut state = self.state();
        if let Some(instances) = state.registered.get_mut(service) {
            instances.remove(instance_id);
        }
        state.republish(service, self.wiring);
        drop(state);
        self.generation.send_modify(|generation| *generation += 1);
    }
}

impl State {
    fn link(&mut self, caller: &str, callee: &str, wiring: Wiring) -> &mut LinkState {
        let key = (caller.to_owned(), callee.to_owned());
        if !self.links.contains_key(&key) {
            let (publisher, endpoints) = Publisher::channel(BACKEND, callee);
            self.links.insert(
                key.clone(),
                LinkState {
                    fault: Arc::default(),
                    publisher,
                    endpoints,
                    proxies: BTreeMap::new(),
                },
            );
            self.republish(callee, wiring);
        }
        self.links.get_mut(&key).unwrap_or_else(|| unreachable!())
    }

    /// Publishes to every link towards `callee` its registered instances: their proxies,
    /// started when missing, or with [`Wiring::Direct`] their own addresses.
    fn republish(&mut self, callee: &str, wiring: Wiring) {
        let empty = BTreeMap::new();
        let instances = self.registered.get(callee).unwrap_or(&empty);
        for ((_, link_callee), link) in &mut self.links {
            if link_callee != callee {
                continue;
            }
            let mut set = Vec::with_capacity(instances.len());
            for (id, upstream) in instances {
                if wiring == Wiring::Direct {
                    set.push(Endpoint::new(*upstream).instance_id(id.clone()));
                    continue;
                }
                if !link.proxies.contains_key(id) {
                    match Proxy::start(*upstream, link.fault.clone()) {
                        Ok(proxy) => {
                            link.proxies.insert(id.clone(), proxy);
                        }
                        Err(error) => {
                            link.publisher
                                .failed(&format!("starting a link proxy: {error}"));
                            continue;
                        }
                    }
                }
                if let Some(proxy) = link.proxies.get(id) {
                    set.push(Endpoint::new(proxy.addr()).instance_id(id.clone()));
                }
            }
            link.publisher.publish(EndpointSet::new(set));
        }
    }
}

/// The network as one caller sees it: what its instances discover and register with.
#[derive(Debug, Clone)]
struct CallerView {
    caller: String,
    network: Arc<Network>,
}

impl Discover for CallerView {
    fn discover(&self, service: &str) -> Result<Endpoints, DiscoveryError> {
        let mut state = self.network.state();
        if !state.services.contains(service) {
            return Err(DiscoveryError::UnknownService(service.to_owned()));
        }
        let wiring = self.network.wiring;
        Ok(state.link(&self.caller, service, wiring).endpoints.clone())
    }
}

impl Register for CallerView {
    fn register(
        &self,
        instance: Instance,
    ) -> BoxFuture<'static, Result<Registration, DiscoveryError>> {
        let network = self.network.clone();
        Box::pin(async move {
            network.register(&instance)?;
            Ok(Registration::new(Registered {
                network,
                service: instance.name,
                instance_id: instance.instance_id,
                done: false,
            }))
        })
    }
}

/// A registered instance. Dropped without deregistering (a crash), it leaves at once: the
/// cluster has no lease to wait for.
#[derive(Debug)]
struct Registered {
    network: Arc<Network>,
    service: String,
    instance_id: String,
    done: bool,
}

impl Deregister for Registered {
    fn deregister(mut self: Box<Self>) -> BoxFuture<'static, Result<(), DiscoveryError>> {
        self.network.deregister(&self.service, &self.instance_id);
        self.done = true;
        Box::pin(async { Ok(()) })
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if !self.done {
            self.network.deregister(&self.service, &self.instance_id);
        }
    }
}
