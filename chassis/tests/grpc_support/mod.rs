//! The gRPC test service: `echo.v1.Echo` on the chassis, and a plain tonic client for it.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use chassis::grpc::GrpcServer;
use chassis::resilience::deadline::Deadline;
use chassis::service::{Context, Microservice};
use chassis_test_echo::pb::echo_server::{Echo, EchoServer};
use chassis_test_echo::pb::{RepeatRequest, SayReply, SayRequest};
use futures_util::Stream;
use tokio::sync::Notify;
use tonic::{Code, Request, Response, Status};

pub use chassis_test_echo::pb::echo_client::EchoClient;

static GATES: LazyLock<Mutex<HashMap<String, Arc<Notify>>>> = LazyLock::new(Default::default);
static HITS: LazyLock<Mutex<HashMap<String, Arc<AtomicUsize>>>> = LazyLock::new(Default::default);

/// A gate `Say` waits on when its message is `gate:<key>`, until the test opens it.
pub fn gate(key: &str) -> Arc<Notify> {
    Arc::clone(GATES.lock().unwrap().entry(key.to_owned()).or_default())
}

/// How many calls an instance configured with `hits_key = <key>` received.
pub fn hits(key: &str) -> Arc<AtomicUsize> {
    Arc::clone(HITS.lock().unwrap().entry(key.to_owned()).or_default())
}

/// The echo service's own settings.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EchoConfig {
    /// Counts this instance's calls under this key.
    pub hits_key: Option<String>,
    /// Answers every `Say` with this status code (unless 0).
    pub fail_with: i32,
    /// Forwards `Say` calls whose message starts with `forward:` to this client's service.
    pub forward_to: Option<String>,
}

/// `echo.v1.Echo` on the chassis, beside an HTTP route.
pub struct EchoService;

impl Microservice for EchoService {
    type Config = EchoConfig;
    const NAME: &'static str = "echo";
    const VERSION: &'static str = "0.1.0";

    async fn router(ctx: Context<EchoConfig>) -> Result<Router, tower::BoxError> {
        let config = ctx.config();
        let forward = match &config.forward_to {
            Some(name) => Some(EchoClient::new(ctx.grpc(name)?)),
            None => None,
        };
        let echo = EchoImpl {
            instance: ctx.identity().instance_id.clone(),
            hits: config.hits_key.as_deref().map(hits),
            fail_with: config.fail_with,
            forward,
        };
        let grpc = GrpcServer::new(&ctx)
            .add_service(EchoServer::new(echo))
            .file_descriptor_set(chassis_test_echo::FILE_DESCRIPTOR_SET)
            .into_router()?;
        Ok(Router::new()
            .route("/hello", get(|| async { "hello over HTTP" }))
            .merge(grpc))
    }
}

#[derive(Clone)]
struct EchoImpl {
    instance: String,
    hits: Option<Arc<AtomicUsize>>,
    fail_with: i32,
    forward: Option<EchoClient<chassis::grpc::GrpcChannel>>,
}

fn deadline_ms() -> u64 {
    Deadline::current().map_or(0, |d| {
        u64::try_from(d.remaining().as_millis()).unwrap_or(u64::MAX)
    })
}

#[tonic::async_trait]
impl Echo for EchoImpl {
    async fn say(&self, request: Request<SayRequest>) -> Result<Response<SayReply>, Status> {
        if let Some(hits) = &self.hits {
            hits.fetch_add(1, Ordering::SeqCst);
        }
        let grpc_timeout = request
            .metadata()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let request = request.into_inner();
        assert!(!request.panic, "secret internal panic text");
        if let Some(key) = request.message.strip_prefix("gate:") {
            gate(key).notified().await;
        }
        if request.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(u64::from(request.delay_ms))).await;
        }
        let fail = if request.fail != 0 {
            request.fail
        } else {
            self.fail_with
        };
        if fail != 0 {
            return Err(Status::new(Code::from(fail), "failed on purpose"));
        }
        if let (Some(rest), Some(next)) = (request.message.strip_prefix("forward:"), &self.forward)
        {
            let seen_here = deadline_ms();
            let mut next = next.clone();
            let mut reply = next
                .say(SayRequest {
                    message: rest.to_owned(),
                    ..SayRequest::default()
                })
                .await?
                .into_inner();
            reply.message = format!(
                "{} via {} (saw {seen_here} ms)",
                reply.message, self.instance
            );
            return Ok(Response::new(reply));
        }
        Ok(Response::new(SayReply {
            message: request.message,
            instance: self.instance.clone(),
            deadline_ms: deadline_ms(),
            payload: vec![7; request.reply_bytes as usize],
            grpc_timeout,
        }))
    }

    async fn shout(&self, request: Request<SayRequest>) -> Result<Response<SayReply>, Status> {
        self.say(request).await
    }

    type RepeatStream = Pin<Box<dyn Stream<Item = Result<SayReply, Status>> + Send>>;

    async fn repeat(
        &self,
        request: Request<RepeatRequest>,
    ) -> Result<Response<Self::RepeatStream>, Status> {
        let request = request.into_inner();
        let instance = self.instance.clone();
        let stream = futures_util::stream::unfold(0u32, move |n| {
            let (message, instance) = (request.message.clone(), instance.clone());
            async move {
                if n == request.count && request.fail != 0 {
                    let status = Status::new(Code::from(request.fail), "failed on purpose");
                    return Some((Err(status), n + 1));
                }
                if n >= request.count {
                    return None;
                }
                if request.delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(u64::from(request.delay_ms))).await;
                }
                let reply = SayReply {
                    message: format!("{message} {n}"),
                    instance,
                    ..SayReply::default()
                };
                Some((Ok(reply), n + 1))
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// tonic's own HTTP/2 channel to `addr`.
pub async fn plain_channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// A plain tonic client (tonic's own HTTP/2 channel) to `addr`.
pub async fn plain_client(addr: SocketAddr) -> EchoClient<tonic::transport::Channel> {
    EchoClient::new(plain_channel(addr).await)
}

/// A `Say` request with `message`.
pub fn say(message: &str) -> SayRequest {
    SayRequest {
        message: message.to_owned(),
        ..SayRequest::default()
    }
}

/// A unary call sent over plain HTTP/2 (hyper), with `headers` as given: no client-side
/// timer, so the server's own answer shows. Returns the status from the headers
/// (trailers-only) or the trailers, and the response's content type.
pub async fn raw_call(
    addr: SocketAddr,
    path: &str,
    message: &impl prost::Message,
    headers: &[(&str, &str)],
) -> (Code, String) {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<bytes::Bytes>>();
    let encoded = message.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(encoded.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&encoded);
    let mut request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(bytes::Bytes::from(frame))).unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    if let Some(code) = chassis::grpc::status_in(response.headers()) {
        return (code, content_type);
    }
    let collected = response.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    (chassis::grpc::status_in(&trailers).unwrap(), content_type)
}
