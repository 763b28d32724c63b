//! Heap allocations per request, bare axum against the chassis stack, in-process: the same
//! services as the `overhead_inprocess` bench, counted by a counting global allocator
//! (`stats_alloc`: a wrapper around the system allocator with atomic counters).
//!
//! Run: `cargo run --release -p chassis-benches --bin allocs [-- --requests N] [--only NAME]`
//!
//! `--only NAME` runs one service of the table (for instruction counts under `callgrind`,
//! see docs/benchmarks.md).
//!
//! Requests are built before counting starts; only `oneshot` through the service and
//! dropping its response are counted. The count is the same in debug and release builds
//! unless an optimisation removes a temporary.

use std::alloc::System;
use std::convert::Infallible;
use std::process::ExitCode;

use axum::body::Body;
use chassis::config::ServerConfig;
use chassis::telemetry::LogFormat;
use chassis::telemetry::http::ServerTelemetryLayer;
use chassis_benches::{cli, fixtures};
use http::{Request, Response};
use http_body_util::BodyExt as _;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower::{Service, ServiceExt};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const WARM_UP: usize = 1_000;

/// Per-request counts of one service.
struct Counts {
    allocations: f64,
    reallocations: f64,
    bytes: f64,
}

fn count<S>(rt: &tokio::runtime::Runtime, service: &S, requests: usize, read_body: bool) -> Counts
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
{
    let call = |request: Request<Body>| {
        let service = service.clone();
        async move {
            let Ok(response) = service.oneshot(request).await;
            if read_body {
                let _ = response.into_body().collect().await;
            }
        }
    };
    rt.block_on(async {
        for _ in 0..WARM_UP {
            call(fixtures::request()).await;
        }
    });
    let prepared: Vec<Request<Body>> = (0..requests).map(|_| fixtures::request()).collect();
    let region = Region::new(GLOBAL);
    rt.block_on(async {
        for request in prepared {
            call(request).await;
        }
    });
    let stats = region.change();
    #[allow(clippy::cast_precision_loss)]
    let n = requests as f64;
    #[allow(clippy::cast_precision_loss)]
    Counts {
        allocations: stats.allocations as f64 / n,
        reallocations: stats.reallocations as f64 / n,
        bytes: stats.bytes_allocated as f64 / n,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let requests = cli::number(&args, "--requests", 20_000);
    let read_body = !args.iter().any(|a| a == "--no-body");
    let only = cli::value(&args, "--only");
    let wanted = |name: &str| only.as_deref().is_none_or(|only| only == name);
    let Some(rt) = cli::runtime() else {
        return ExitCode::FAILURE;
    };
    let metrics = fixtures::metrics();
    let pretty = fixtures::log_dispatch(LogFormat::Pretty);
    let json = fixtures::log_dispatch(LogFormat::Json);

    let mut rows = Vec::new();
    tracing::dispatcher::with_default(&pretty, || {
        if wanted("a_bare") {
            rows.push(("a_bare", count(&rt, &fixtures::bare(), requests, read_body)));
        }
        if wanted("standard_stack_only") {
            rows.push((
                "standard_stack_only",
                count(
                    &rt,
                    &chassis::server::standard_stack(&ServerConfig::default(), fixtures::bare()),
                    requests,
                    read_body,
                ),
            ));
        }
        if wanted("telemetry_layer_only") {
            rows.push((
                "telemetry_layer_only",
                count(
                    &rt,
                    &fixtures::routes()
                        .layer(ServerTelemetryLayer::new())
                        .with_state(()),
                    requests,
                    read_body,
                ),
            ));
        }
        if wanted("b_chassis") {
            rows.push((
                "b_chassis",
                count(
                    &rt,
                    &fixtures::chassis(metrics.clone()),
                    requests,
                    read_body,
                ),
            ));
        }
        if wanted("b_chassis_runtime_as_is") {
            rows.push((
                "b_chassis_runtime_as_is",
                count(
                    &rt,
                    &fixtures::chassis_as_runtime(metrics.clone()),
                    requests,
                    read_body,
                ),
            ));
        }
    });
    tracing::dispatcher::with_default(&json, || {
        if wanted("c_chassis_json_logs") {
            rows.push((
                "c_chassis_json_logs",
                count(&rt, &fixtures::chassis(metrics), requests, read_body),
            ));
        }
    });

    print_table(&rows, requests, read_body);
    ExitCode::SUCCESS
}

fn print_table(rows: &[(&str, Counts)], requests: usize, read_body: bool) {
    println!(
        "allocations per request, in-process, {requests} requests{} (logs at INFO to a sink):\n",
        if read_body { ", body read" } else { "" }
    );
    println!(
        "{:<26} {:>8} {:>8} {:>10} {:>12}",
        "service", "allocs", "reallocs", "bytes", "extra allocs"
    );
    let bare = rows
        .iter()
        .find(|(name, _)| *name == "a_bare")
        .map(|(_, c)| c.allocations);
    for (name, c) in rows {
        // Without the bare row (`--only`) there is nothing to count extra against.
        let extra = bare.map_or_else(
            || "-".to_owned(),
            |bare| format!("{:+.2}", c.allocations - bare),
        );
        println!(
            "{name:<26} {:>8.2} {:>8.2} {:>10.0} {extra:>12}",
            c.allocations, c.reallocations, c.bytes,
        );
    }
}
