//! [`GrpcServer`]: tonic services as routes of the service's axum router.

use std::convert::Infallible;

use axum::Router;
use tonic::server::NamedService;
use tower::{Service, ServiceExt as _};

use super::health::{HEALTH_SERVICE, HealthService};
use super::metrics::RpcServerLayer;
use crate::config::GrpcServerConfig;
use crate::health::HealthRegistry;
use crate::service::Context;
use crate::shutdown::Shutdown;
use tower::Layer as _;

/// The reflection services' names (v1, and v1alpha for older tools).
const REFLECTION_SERVICES: [&str; 2] = [
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Building the gRPC routes failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GrpcBuildError {
    /// A file descriptor set given for reflection does not decode.
    #[error("invalid file descriptor set for reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// The gRPC side of a service: tonic services served beside its axum routes, on the same
/// port and through the same stack, with `grpc.health.v1.Health` and server reflection.
///
/// ```
/// use chassis::grpc::{GrpcBuildError, GrpcServer};
/// # use std::convert::Infallible;
/// # use tonic::{body::Body, server::NamedService};
///
/// # fn router<S>(ctx: chassis::service::Context<()>, catalog: S) -> Result<axum::Router, GrpcBuildError>
/// # where
/// #     S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
/// #         + NamedService + Clone + Send + Sync + 'static,
/// #     S::Future: Send + 'static,
/// # {
/// # const FILE_DESCRIPTOR_SET: &[u8] = tonic_health::pb::FILE_DESCRIPTOR_SET;
/// // `catalog` is a tonic-generated `CatalogServer::new(my_impl)`; `FILE_DESCRIPTOR_SET` the
/// // bytes a build.rs wrote with protox.
/// let grpc = GrpcServer::new(&ctx)
///     .add_service(catalog)
///     .file_descriptor_set(FILE_DESCRIPTOR_SET)
///     .into_router()?;
/// let router = axum::Router::new()
///     .route("/items", axum::routing::get(|| async { "[]" }))
///     .merge(grpc);
/// # Ok(router) }
/// ```
///
/// Each service answers at `/{package.Service}/{Method}`; its calls are measured as
/// `rpc_server_call_duration_seconds` (see the [module docs](super)).
#[derive(Debug)]
#[must_use]
pub struct GrpcServer {
    router: Router,
    services: Vec<String>,
    descriptors: Vec<&'static [u8]>,
    config: GrpcServerConfig,
    health: HealthRegistry,
    shutdown: Shutdown,
}

impl GrpcServer {
    /// The gRPC routes of the service `ctx` belongs to: its `server.grpc` settings, its health
    /// registry and shutdown.
    pub fn new<C>(ctx: &Context<C>) -> Self {
        Self::with_parts(
            &ctx.settings().server.grpc,
            ctx.health().clone(),
            ctx.shutdown().clone(),
        )
    }

    /// The gRPC routes of a server with these settings, health registry and shutdown (for a
    /// stack of one's own; [`GrpcServer::new`] takes them from a service's context).
    pub fn with_parts(
        config: &GrpcServerConfig,
        health: HealthRegistry,
        shutdown: Shutdown,
    ) -> Self {
        Self {
            router: Router::new(),
            services: Vec::new(),
            descriptors: Vec::new(),
            config: config.clone(),
            health,
            shutdown,
        }
    }

    /// Serves a tonic service (a generated `XxxServer`), reported by health as its own
    /// `package.Service` name. A service added twice is served once (the first); a
    /// `grpc.health.v1.Health` or reflection service of one's own replaces the chassis' one.
    pub fn add_service<S, B>(mut self, service: S) -> Self
    where
        S: Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<B>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<tower::BoxError>,
    {
        if self.serves(S::NAME) {
            tracing::warn!(
                service = S::NAME,
                "gRPC service added twice; the first one serves"
            );
            return self;
        }
        let measured = RpcServerLayer::new(S::NAME).layer(service);
        let route = measured.map_request(|request: http::Request<axum::body::Body>| {
            request.map(tonic::body::Body::new)
        });
        self.router = self
            .router
            .route_service(&format!("/{}/{{*rest}}", S::NAME), route);
        self.services.push(S::NAME.to_owned());
        self
    }

    /// Adds an encoded `FileDescriptorSet` (as protox or `tonic-prost-build`'s
    /// `file_descriptor_set_path` write it) that reflection describes. Reflection lists only
    /// the services added, even when a set also describes services this process only calls.
    pub fn file_descriptor_set(mut self, encoded: &'static [u8]) -> Self {
        self.descriptors.push(encoded);
        self
    }

    /// The names of the services added so far.
    pub fn services(&self) -> &[String] {
        &self.services
    }

    /// The routes: every service added, `grpc.health.v1.Health`, and server reflection (v1
    /// and v1alpha) unless `server.grpc.reflection = false`. Merge them into the service's
    /// router.
    ///
    /// # Errors
    ///
    /// When a file descriptor set does not decode.
    pub fn into_router(self) -> Result<Router, GrpcBuildError> {
        let reflect =
            self.config.reflection && !REFLECTION_SERVICES.iter().any(|name| self.serves(name));
        // Health knows every service served, its own and reflection's included.
        let mut known = self.services.clone();
        known.push(HEALTH_SERVICE.to_owned());
        if reflect {
            known.extend(REFLECTION_SERVICES.map(str::to_owned));
        }
        // Reflection lists only those: a descriptor set may also describe services this
        // process only calls (a client's `.proto` compiled beside its own).
        let reflection = if reflect {
            let builder = |descriptors: &[&'static [u8]]| {
                let builder = tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
                let builder = descriptors.iter().fold(builder, |builder, descriptor| {
                    builder.register_encoded_file_descriptor_set(descriptor)
                });
                known.iter().fold(
                    builder,
                    tonic_reflection::server::Builder::with_service_name,
                )
            };
            Some((
                builder(&self.descriptors).build_v1()?,
                builder(&self.descriptors).build_v1alpha()?,
            ))
        } else {
            None
        };
        let health = HealthService::new(
            self.health.clone(),
            self.shutdown.clone(),
            known,
            self.config.health_watch_interval,
        );
        // A service's own health service, added before, is the one served.
        let mut server = self.add_service(health);
        if let Some((v1, v1alpha)) = reflection {
            server = server.add_service(v1).add_service(v1alpha);
        }
        Ok(server.router)
    }

    fn serves(&self, name: &str) -> bool {
        self.services.iter().any(|known| known == name)
    }
}
