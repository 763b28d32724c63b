//! [`Declared`]: the services a [`TestCluster`](super::TestCluster) or a simulation is
//! declared with, and the first mistake in the declaration.

use super::ClusterError;

/// A declared service: its name, how one instance is launched, how many, and its keys.
#[derive(Debug)]
pub(super) struct Spec<L> {
    pub(super) name: &'static str,
    pub(super) launch: L,
    pub(super) instances: usize,
    /// Keys below files and environment.
    pub(super) defaults: Vec<(String, String)>,
    /// Keys above every source.
    pub(super) settings: Vec<(String, String)>,
}

/// The services declared so far, in start order, and the first mistake made declaring them
/// (reported when the cluster starts, so that builders chain).
#[derive(Debug)]
pub(super) struct Declared<L> {
    specs: Vec<Spec<L>>,
    problem: Option<ClusterError>,
}

impl<L> Default for Declared<L> {
    fn default() -> Self {
        Self {
            specs: Vec::new(),
            problem: None,
        }
    }
}

impl<L> Declared<L> {
    /// Adds a service with one instance; a second service of the same name is a mistake.
    pub(super) fn add(&mut self, name: &'static str, launch: L) {
        if self.specs.iter().any(|spec| spec.name == name) {
            self.problem
                .get_or_insert(ClusterError::DuplicateService(name.to_owned()));
        }
        self.specs.push(Spec {
            name,
            launch,
            instances: 1,
            defaults: Vec::new(),
            settings: Vec::new(),
        });
    }

    /// Runs `count` instances of `service`.
    pub(super) fn instances(&mut self, service: &str, count: usize) {
        if let Some(spec) = self.spec(service) {
            spec.instances = count;
        }
    }

    /// A key of `service` above every source.
    pub(super) fn set(&mut self, service: &str, key: String, value: String) {
        if let Some(spec) = self.spec(service) {
            spec.settings.push((key, value));
        }
    }

    /// A key of `service` below its files and environment.
    pub(super) fn set_default(&mut self, service: &str, key: String, value: String) {
        if let Some(spec) = self.spec(service) {
            spec.defaults.push((key, value));
        }
    }

    fn spec(&mut self, service: &str) -> Option<&mut Spec<L>> {
        let found = self.specs.iter_mut().find(|spec| spec.name == service);
        if found.is_none() {
            self.problem
                .get_or_insert(ClusterError::UnknownService(service.to_owned()));
        }
        found
    }

    /// The declared services, or the first mistake.
    pub(super) fn checked(self) -> Result<Vec<Spec<L>>, ClusterError> {
        match self.problem {
            Some(problem) => Err(problem),
            None => Ok(self.specs),
        }
    }
}
