//! Runs the guide's gRPC service as `cargo run` does, against the real catalog, and calls it
//! as the guide's `grpcurl` lines do: with a plain tonic client.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// `greeter.v1.HelloRequest`, as the test sees it on the wire.
#[derive(Clone, PartialEq, prost::Message)]
struct HelloRequest {
    #[prost(string, tag = "1")]
    item_id: String,
}

/// `greeter.v1.HelloReply`.
#[derive(Clone, PartialEq, prost::Message)]
struct HelloReply {
    #[prost(string, tag = "1")]
    message: String,
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the greeter binary on a port of its choosing (0) and answers the address its log
/// says it bound; its log is drained on a thread after that.
fn greeter(catalog: SocketAddr) -> (Running, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_greeter"))
        .env_clear()
        .env("GREETER__SERVER__HOST", "127.0.0.1")
        .env("GREETER__SERVER__PORT", "0")
        .env("GREETER__DISCOVERY__STATIC__CATALOG", catalog.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stdout.take().unwrap()).lines();
    let running = Running(child);
    let addr = log
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            let started = line.contains("service started");
            let addr = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("addr="));
            addr.filter(|_| started)
                .map(|a| a.parse::<SocketAddr>().unwrap())
        })
        .expect("the greeter logs the address it bound");
    std::thread::spawn(move || log.for_each(drop));
    (running, addr)
}

async fn say_hello(channel: Channel, item_id: &str) -> Result<String, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/greeter.v1.Greeter/SayHello");
    let request = tonic::Request::new(HelloRequest {
        item_id: item_id.to_owned(),
    });
    let codec = tonic_prost::ProstCodec::<HelloRequest, HelloReply>::default();
    let reply = grpc.unary(request, path, codec).await?;
    Ok(reply.into_inner().message)
}

async fn reflected_services(channel: Channel) -> Vec<String> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = ServerReflectionClient::new(channel)
        .server_reflection_info(futures_util::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let reply = replies.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("not a list: {reply:?}");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    names
}

#[tokio::test]
async fn greets_over_grpc_with_the_name_catalog_gives_and_reflects_only_its_services() {
    let catalog = chassis::service::spawn::<catalog::Catalog>([
        ("server.host", "127.0.0.1"),
        ("server.port", "0"),
        ("shutdown.drain_delay", "0s"),
        ("telemetry.log.level", "warn"),
    ])
    .await
    .unwrap();
    let (_greeter, addr) = greeter(catalog.addr());
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();

    let greeting = say_hello(channel.clone(), "espresso").await.unwrap();
    assert_eq!(greeting, "Hello, Espresso beans, 1 kg!");
    let unknown = say_hello(channel.clone(), "nope").await.unwrap_err();
    assert_eq!(
        unknown.code(),
        tonic::Code::NotFound,
        "catalog's own status"
    );

    let mut health = HealthClient::new(channel.clone());
    for service in ["", "greeter.v1.Greeter"] {
        let asked = HealthCheckRequest {
            service: service.to_owned(),
        };
        let status = health.check(asked).await.unwrap().into_inner().status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }

    // catalog.v1.Catalog is in the descriptors (the client's `.proto`) but not served here.
    assert_eq!(
        reflected_services(channel).await,
        [
            "greeter.v1.Greeter",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
    );
    catalog.shutdown().await;
}
