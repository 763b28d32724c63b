//! Building a service's tracer provider: exporter per protocol, resource, sampler, batching.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use opentelemetry::KeyValue;
use opentelemetry_http::{HttpClient, HttpError, hyper::HyperClient};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};
use tokio::runtime::Handle;

use super::ServiceResource;
use super::route::ChassisIds;
use crate::config::redact::{Redacted, redact_url};
use crate::telemetry::TelemetryError;
use crate::telemetry::config::{OtlpConfig, OtlpProtocol};

/// Time bound of one export request.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The provider of one service: batch processor over the configured exporter.
pub(super) fn provider(
    cfg: &OtlpConfig,
    endpoint: &str,
    resource: &ServiceResource<'_>,
    environment: Option<&str>,
    runtime: Handle,
) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = exporter(cfg.protocol, endpoint, runtime)?;
    let batch = BatchConfigBuilder::default()
        .with_scheduled_delay(cfg.batch_delay)
        .build();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch)
        .build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            cfg.sample_ratio.clamp(0.0, 1.0),
        ))))
        .with_id_generator(ChassisIds)
        .with_resource(build_resource(resource, environment))
        .build())
}

fn build_resource(id: &ServiceResource<'_>, environment: Option<&str>) -> Resource {
    let mut attributes = vec![
        KeyValue::new("service.version", id.version.to_owned()),
        KeyValue::new("service.instance.id", id.instance_id.to_owned()),
    ];
    if let Some(env) = environment {
        attributes.push(KeyValue::new("deployment.environment", env.to_owned()));
        attributes.push(KeyValue::new("deployment.environment.name", env.to_owned()));
    }
    Resource::builder()
        .with_service_name(id.name.to_owned())
        .with_attributes(attributes)
        .build()
}

fn exporter(
    protocol: OtlpProtocol,
    endpoint: &str,
    runtime: Handle,
) -> Result<SpanExporter, TelemetryError> {
    let built = match protocol {
        OtlpProtocol::Grpc => SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_timeout(EXPORT_TIMEOUT)
            .build(),
        OtlpProtocol::HttpProtobuf => SpanExporter::builder()
            .with_http()
            .with_endpoint(http_traces_url(endpoint))
            .with_protocol(Protocol::HttpBinary)
            .with_timeout(EXPORT_TIMEOUT)
            .with_http_client(OnRuntime::new(runtime))
            .build(),
    };
    // The exporter's message quotes the endpoint: it is kept, with the credentials hidden.
    built.map_err(|source| TelemetryError::Otlp {
        endpoint: redact_url(endpoint).into_owned(),
        source: Box::new(Redacted::from_error(&source)),
    })
}

/// The traces URL of an OTLP/HTTP base endpoint: `{base}/v1/traces` unless given in full.
pub(super) fn http_traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}

/// The hyper client, run on the service's tokio runtime: the batch processor exports from
/// its own thread, where no runtime is current.
#[derive(Debug, Clone)]
struct OnRuntime {
    runtime: Handle,
    client: HyperClient,
}

impl OnRuntime {
    fn new(runtime: Handle) -> Self {
        Self {
            runtime,
            client: HyperClient::with_default_connector(EXPORT_TIMEOUT, None),
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        self.runtime
            .spawn(async move { client.send_bytes(request).await })
            .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_endpoint_gets_the_traces_path_once() {
        assert_eq!(http_traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(http_traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(
            http_traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }
}
