//! In-process overhead of the chassis server stack: the same trivial handler through
//! `tower::ServiceExt::oneshot` on a one-worker current-thread runtime, requests (host,
//! user-agent, accept) built outside the timed section:
//!
//! - `a_bare`: the bare axum router;
//! - `b_chassis`: `standard_stack` around the router with health, `/metrics` and
//!   `ServerTelemetryLayer` (via `Router::layer`, then `with_state(())` as `axum::serve`
//!   does), Prometheus recorder installed, pretty logs at INFO to a sink, the access-log
//!   event at its default level (`debug`, filtered out at INFO): what a service gets;
//! - `b_chassis_without_with_state`: the same without `with_state(())` (axum then re-applies
//!   the router's layers per request), for comparison;
//! - `b_chassis_access_log_info`: `b_chassis` with `telemetry.log.access = "info"` (one
//!   formatted line per request, to a sink: the formatting alone);
//! - `b_chassis_access_log_dev_null`: the same written to `/dev/null` opened as a file, a
//!   `write` system call per request in the request's thread (what writing straight to
//!   stdout costs);
//! - `b_chassis_access_log_non_blocking`: the same through `logs::NonBlocking` (what
//!   `init_logging` does): the line is queued, a writer thread writes batches to
//!   `/dev/null`;
//! - `b_chassis_no_subscriber`: `b_chassis` with no log subscriber at all: the stack and
//!   metrics without any log formatting;
//! - `c_chassis_json_logs`: `b_chassis` with JSON logs;
//! - `c_chassis_json_access_log_non_blocking`: JSON logs with the access log at `info`,
//!   through `logs::NonBlocking` to `/dev/null`;
//! - `c_chassis_otlp_unsampled`: `b_chassis` with trace export on at `sample_ratio = 0.01`:
//!   almost every request only asks the sampler;
//! - `c_chassis_otlp_export`: `b_chassis` with trace export on (OTLP/HTTP to a receiver in
//!   this process, every trace sampled): each request makes, ends and queues an exported
//!   span; the batch export itself runs on another thread.
//!
//! Every variant runs under the same log subscriber. After the run it prints each median
//! and its ratio to `a_bare`.
//!
//! Run: `cargo bench -p chassis-benches --bench overhead_inprocess` (about 20 s).

use std::hint::black_box;
use std::time::Duration;

use axum::body::Body;
use chassis::telemetry::{AccessLog, LogFormat};
use chassis_benches::criterion_results::median_ns;
use chassis_benches::fixtures;
use criterion::{BatchSize, Criterion};
use http::{Request, Response};
use tower::{Service, ServiceExt};

const GROUP: &str = "inprocess";
const BENCHES: [&str; 11] = [
    "a_bare",
    "b_chassis",
    "b_chassis_without_with_state",
    "b_chassis_access_log_info",
    "b_chassis_access_log_dev_null",
    "b_chassis_access_log_non_blocking",
    "b_chassis_no_subscriber",
    "c_chassis_json_logs",
    "c_chassis_json_access_log_non_blocking",
    "c_chassis_otlp_unsampled",
    "c_chassis_otlp_export",
];

fn run<S>(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, service: &S)
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone,
    S::Error: std::fmt::Debug,
{
    c.benchmark_group(GROUP).bench_function(name, |b| {
        b.to_async(rt).iter_batched(
            || (service.clone(), fixtures::request()),
            |(service, request)| async move {
                black_box(service.oneshot(request).await.expect("infallible"));
            },
            BatchSize::SmallInput,
        );
    });
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let metrics = fixtures::metrics();
    {
        let pretty = fixtures::log_dispatch(LogFormat::Pretty);
        let _logs = tracing::dispatcher::set_default(&pretty);
        run(&mut c, &rt, BENCHES[0], &fixtures::bare());
        run(&mut c, &rt, BENCHES[1], &fixtures::chassis(metrics.clone()));
        run(
            &mut c,
            &rt,
            BENCHES[2],
            &fixtures::chassis_as_runtime(metrics.clone()),
        );
        let loud = fixtures::chassis_with(metrics.clone(), AccessLog::Info);
        run(&mut c, &rt, BENCHES[3], &loud);
    }
    let loud = fixtures::chassis_with(metrics.clone(), AccessLog::Info);
    {
        let dev_null = fixtures::log_dispatch_dev_null(LogFormat::Pretty);
        let _logs = tracing::dispatcher::set_default(&dev_null);
        run(&mut c, &rt, BENCHES[4], &loud);
    }
    {
        let (queued, _writer) = fixtures::log_dispatch_non_blocking(LogFormat::Pretty);
        let _logs = tracing::dispatcher::set_default(&queued);
        run(&mut c, &rt, BENCHES[5], &loud);
    }
    {
        let none = tracing::Dispatch::none();
        let _logs = tracing::dispatcher::set_default(&none);
        run(&mut c, &rt, BENCHES[6], &fixtures::chassis(metrics.clone()));
    }
    {
        let json = fixtures::log_dispatch(LogFormat::Json);
        let _logs = tracing::dispatcher::set_default(&json);
        run(&mut c, &rt, BENCHES[7], &fixtures::chassis(metrics.clone()));
    }
    {
        let (queued, _writer) = fixtures::log_dispatch_non_blocking(LogFormat::Json);
        let _logs = tracing::dispatcher::set_default(&queued);
        run(&mut c, &rt, BENCHES[8], &loud);
    }
    // Last: while export is installed, every request of the process makes a span.
    let receiver = fixtures::otlp_receiver();
    for (ratio, name) in [(0.01, BENCHES[9]), (1.0, BENCHES[10])] {
        let (dispatch, guard, exports) = fixtures::otlp_export(receiver, ratio);
        {
            let _logs = tracing::dispatcher::set_default(&dispatch);
            run(
                &mut c,
                &rt,
                name,
                &fixtures::chassis_exporting(metrics.clone(), &guard),
            );
        }
        if let Err(error) = exports.block_on(guard.shutdown(Duration::from_secs(5))) {
            eprintln!("trace export did not shut down cleanly: {error}");
        }
    }
    c.final_summary();

    let Some(bare) = median_ns(GROUP, BENCHES[0]) else {
        return; // `--list`, `--test` or a filter that skipped the baseline
    };
    println!("\nin-process, median per request, ratio to a_bare:");
    for name in BENCHES {
        if let Some(ns) = median_ns(GROUP, name) {
            println!(
                "  {name:<26} {:>8.0} ns  {:>5.2}x  (+{:.0} ns)",
                ns,
                ns / bare,
                ns - bare
            );
        }
    }
}
