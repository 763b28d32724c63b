// A gRPC service beside HTTP routes: the generated server added to `GrpcServer`, merged into
// the router the macro's function returns; its error type is `GrpcBuildError`.
use std::pin::Pin;

use axum::Router;
use chassis::grpc::{GrpcBuildError, GrpcServer};
use chassis::service::{Context, Microservice};
use chassis_test_echo::pb::echo_server::{Echo, EchoServer};
use chassis_test_echo::pb::{RepeatRequest, SayReply, SayRequest};
use tonic::{Request, Response, Status};

struct Hello;

#[tonic::async_trait]
impl Echo for Hello {
    async fn say(&self, request: Request<SayRequest>) -> Result<Response<SayReply>, Status> {
        let message = format!("hello, {}", request.into_inner().message);
        Ok(Response::new(SayReply {
            message,
            ..SayReply::default()
        }))
    }

    async fn shout(&self, request: Request<SayRequest>) -> Result<Response<SayReply>, Status> {
        self.say(request).await
    }

    type RepeatStream =
        Pin<Box<dyn tonic::codegen::tokio_stream::Stream<Item = Result<SayReply, Status>> + Send>>;

    async fn repeat(
        &self,
        _request: Request<RepeatRequest>,
    ) -> Result<Response<Self::RepeatStream>, Status> {
        Err(Status::unimplemented("not here"))
    }
}

#[chassis::service(name = "greeter", defaults = false)]
async fn greeter(ctx: Context<()>) -> Result<Router, GrpcBuildError> {
    let grpc = GrpcServer::new(&ctx)
        .add_service(EchoServer::new(Hello))
        .file_descriptor_set(chassis_test_echo::FILE_DESCRIPTOR_SET)
        .into_router()?;
    Ok(Router::new()
        .route("/hello", axum::routing::get(|| async { "hello" }))
        .merge(grpc))
}

fn main() {
    fn is_service<S: Microservice<Config = ()>>() {}
    is_service::<Greeter>();
    assert_eq!(Greeter::NAME, "greeter");
}
