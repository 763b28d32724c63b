//! How each instance of a [`TestCluster`](super::TestCluster) is configured and launched:
//! from its embedded defaults on a free loopback port (a test), or as a deployed process
//! is (a demo).

use std::path::PathBuf;

use crate::discovery::{BoxFuture, Registry};
use crate::service::{LaunchError, Launcher, Microservice, ServiceHandle};

/// Starts one instance of a service type with the cluster's registry and configuration.
pub(super) type LaunchFn =
    fn(Registry, Recipe) -> BoxFuture<'static, Result<ServiceHandle, LaunchError>>;

/// Where every instance's configuration comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Source {
    /// The service's embedded defaults, on a free loopback port, draining briefly: a test.
    #[default]
    Defaults,
    /// What a deployed process reads, ports and drain included: a demo.
    Process,
}

/// The configuration sources every service of a cluster shares.
#[derive(Debug, Clone, Default)]
pub(super) struct Sources {
    pub(super) source: Source,
    /// Environment variables read besides (or, with [`Source::Defaults`], instead of) the
    /// process's.
    pub(super) env: Vec<(String, String)>,
    /// The configuration directory, instead of `./config` or `APP_CONFIG_DIR`.
    pub(super) dir: Option<PathBuf>,
}

/// How one instance is configured: the cluster's sources and its service's own keys.
#[derive(Debug, Clone)]
pub(super) struct Recipe {
    pub(super) sources: Sources,
    pub(super) defaults: Vec<(String, String)>,
    pub(super) settings: Vec<(String, String)>,
}

/// Starts an instance of `S` with the cluster's registry: on a free loopback port, or
/// where its configuration says with [`Source::Process`].
pub(super) fn launch<S: Microservice>(
    registry: Registry,
    recipe: Recipe,
) -> BoxFuture<'static, Result<ServiceHandle, LaunchError>> {
    Box::pin(async move {
        let Recipe {
            sources,
            defaults,
            settings,
        } = recipe;
        let mut launcher = match sources.source {
            Source::Defaults => Launcher::<S>::new()?
                .set_default("shutdown.drain_delay", "100ms")
                .set_default("shutdown.grace_period", "5s")
                .set("server.host", "127.0.0.1")
                .set("server.port", 0),
            Source::Process => Launcher::<S>::from_process()?,
        };
        launcher = launcher.env(sources.env).registry(registry);
        if let Some(dir) = sources.dir {
            launcher = launcher.dir(dir);
        }
        for (key, value) in defaults {
            launcher = launcher.set_default(key, value);
        }
        for (key, value) in settings {
            launcher = launcher.set(key, value);
        }
        launcher.spawn().await
    })
}
