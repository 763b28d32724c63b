//! The chassis-owned configuration sections: `server`, `shutdown`, `faults` (`discovery`
//! lives in [`crate::discovery`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ByteSize, Secret, TrustConfig};

/// `server`: where and how the HTTP server listens, and its protections.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Interface to bind.
    pub host: String,
    /// Service port; `0` picks a free port.
    pub port: u16,
    /// A separate port for health, metrics, info and the `/admin` endpoints. When unset, the
    /// read-only endpoints share the service port and `/admin` is not served at all.
    pub admin_port: Option<u16>,
    /// Interface the admin port binds (default: `host`), such as `127.0.0.1` for a port only
    /// a sidecar or `kubectl port-forward` reaches.
    pub admin_host: Option<String>,
    /// The bearer token `/admin` requests must carry (`Authorization: Bearer <token>`, at
    /// least 16 characters). Without it no `/admin` endpoint exists.
    pub admin_token: Option<Secret<String>>,
    /// Whose hints (deadline, trace context, baggage, request id) the server honours.
    pub trust: TrustConfig,
    /// A caller's deadline leaving less than this is answered `504` at once, before the
    /// handler runs: the request alone fails, and no dependency is called for it.
    #[serde(with = "super::duration")]
    pub deadline_floor: Duration,
    /// Connections open at once; beyond it accepting pauses until one closes
    /// (`chassis_server_connections_limited_total` counts the pauses).
    pub max_connections: usize,
    /// Answer `504` when a request takes longer than this.
    #[serde(with = "super::duration")]
    pub request_timeout: Duration,
    /// Requests handled at once; beyond it requests are shed with `503` and `Retry-After`.
    pub max_concurrent_requests: usize,
    /// Largest accepted request body; larger ones get `413`.
    pub max_body_size: ByteSize,
    /// Close a connection whose request head does not arrive in full within this long: a
    /// new connection's first head, or a later one once its first bytes came.
    #[serde(with = "super::duration")]
    pub header_read_timeout: Duration,
    /// Close a kept-alive connection that sends nothing for this long after its last
    /// request. Keep it above the idle timeout of a load balancer in front, so that the
    /// balancer closes an idle connection first.
    #[serde(with = "super::duration")]
    pub idle_timeout: Duration,
    /// Cut a connection whose peer has taken none of its answer for this long while a write
    /// waits for it (nginx's `send_timeout`): a reader that stops reading cannot hold the
    /// connection and the unsent answer.
    #[serde(with = "super::duration")]
    pub send_timeout: Duration,
    /// Fail a request whose body stalls for longer than this between two chunks.
    #[serde(with = "super::duration")]
    pub body_read_timeout: Duration,
    /// Most request headers accepted (more get `431`).
    pub max_headers: usize,
    /// Largest total size of the request head (more gets `431`).
    pub max_header_size: ByteSize,
    /// Accept HTTP/2 over cleartext (h2c) beside HTTP/1.1.
    pub http2: bool,
    /// gRPC services served beside the routes (feature `grpc`).
    pub grpc: GrpcServerConfig,
}

/// `server.grpc`: what the gRPC side of the server offers besides the service's own
/// services (read with the `grpc` feature; accepted without it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcServerConfig {
    /// Serve gRPC server reflection (`grpc.reflection.v1` and `v1alpha`), for tools such as
    /// grpcurl. Default `true`.
    pub reflection: bool,
    /// How often a `grpc.health.v1.Health/Watch` looks at readiness again (shutdown is seen
    /// at once). Default `"5s"`.
    #[serde(with = "super::duration")]
    pub health_watch_interval: Duration,
}

impl Default for GrpcServerConfig {
    fn default() -> Self {
        Self {
            reflection: true,
            health_watch_interval: Duration::from_secs(5),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".to_owned(),
            port: 8080,
            admin_port: None,
            admin_host: None,
            admin_token: None,
            trust: TrustConfig::default(),
            deadline_floor: Duration::from_millis(5),
            max_connections: 10_000,
            request_timeout: Duration::from_secs(30),
            max_concurrent_requests: 1024,
            max_body_size: ByteSize(2 << 20),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            send_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(30),
            max_headers: 100,
            max_header_size: ByteSize(16 << 10),
            http2: true,
            grpc: GrpcServerConfig::default(),
        }
    }
}

/// `shutdown`: the timing of graceful shutdown.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShutdownConfig {
    /// After readiness turns to fail, keep serving this long so load balancers and callers
    /// stop sending.
    #[serde(with = "super::duration")]
    pub drain_delay: Duration,
    /// How long in-flight requests and streams may take to finish once accepting stopped.
    #[serde(with = "super::duration")]
    pub grace_period: Duration,
    /// Bound on each shutdown hook.
    #[serde(with = "super::duration")]
    pub hook_timeout: Duration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            drain_delay: Duration::from_secs(5),
            grace_period: Duration::from_secs(20),
            hook_timeout: Duration::from_secs(5),
        }
    }
}

/// `faults`: fault injection on the service's own routes (never health or metrics).
///
/// Off unless `enabled`: only then do the faults below apply and, with an admin token,
/// `/admin/faults` exist to change them at run time.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultsConfig {
    /// Turns fault injection on: the faults below, and `/admin/faults` on the admin port.
    pub enabled: bool,
    /// Delay added before each request is handled.
    #[serde(with = "super::duration::option")]
    pub latency: Option<Duration>,
    /// Share of requests answered `503` (from `0.0` to `1.0`).
    pub error_rate: f64,
}

impl FaultsConfig {
    /// Whether any fault is set (whether or not injection is enabled).
    pub fn is_active(&self) -> bool {
        self.latency.is_some_and(|d| !d.is_zero()) || self.error_rate > 0.0
    }
}

/// `reload`: which sources change configuration while the service runs (see
/// `docs/configuration.md`, "Live changes"). These keys themselves need a restart.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReloadConfig {
    /// Watch `default.toml` and the profile's file, and apply their changes. Default `true`.
    pub watch_files: bool,
    /// How often the files are looked at (their size, modification time and contents'
    /// hash). Default `"1s"`.
    #[serde(with = "super::duration")]
    pub poll_interval: Duration,
    /// Re-read every source on SIGHUP (Unix). Default `true`.
    pub sighup: bool,
    /// An etcd key prefix holding configuration (feature `etcd`): each key below it is a
    /// dotted configuration key (`/` or `.` between levels), its value read as an
    /// environment variable's is; watched. Default none.
    pub etcd_prefix: Option<String>,
    /// The etcd cluster of `etcd_prefix`; empty: `discovery.etcd.endpoints`.
    #[serde(deserialize_with = "super::list::deserialize")]
    pub etcd_endpoints: Vec<String>,
}

impl Default for ReloadConfig {
    fn default() -> Self {
        Self {
            watch_files: true,
            poll_interval: Duration::from_secs(1),
            sighup: true,
            etcd_prefix: None,
            etcd_endpoints: Vec::new(),
        }
    }
}
