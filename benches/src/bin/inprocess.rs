//! In-process cost per request, bare axum against the chassis, **interleaved**: the services
//! of the `overhead_inprocess` criterion bench, each timed over a batch of requests in turn,
//! round after round, so a drift of the machine hits all of them alike. Reports each
//! service's median time per request and the median of its per-round ratios to bare axum.
//!
//! Criterion runs its benchmarks one after the other, so on a shared VM a variant's place in
//! the run can move it by a microsecond; this binary is the figure to quote for the ratios.
//!
//! Run: `cargo run --release -p chassis-benches --bin inprocess [-- --rounds R --requests N]`
//! (defaults 15 rounds of 20,000 requests; about 30 s). Pinned to core 0 when it can be.
//!
//! The results go to `$CARGO_TARGET_DIR/inprocess.json`, which `overhead --plot` draws.
//!
//! Trace export is process-wide while installed, so the export phases come last and
//! alternate with bare axum only: `c_chassis_otlp_unsampled` at `sample_ratio = 0.01`, then
//! `c_chassis_otlp_export` with every request sampled. Their cost over export off is their
//! ratio minus `b_chassis`'s, times bare axum's time.

use std::convert::Infallible;
use std::process::ExitCode;
use std::time::Instant;

use axum::body::Body;
use chassis::telemetry::{AccessLog, LogFormat};
use chassis_benches::{cli, fixtures, report, servers};
use http::{Request, Response};
use tower::{Service, ServiceExt};

/// Times a batch of `n` requests through one service under its log dispatcher, ns each.
/// Boxed per service, not per request: each service keeps its own type inside.
type Timer<'a> = Box<dyn Fn(usize) -> f64 + 'a>;

fn timer<'a, S>(
    rt: &'a tokio::runtime::Runtime,
    service: S,
    logs: &'a tracing::Dispatch,
) -> Timer<'a>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone + 'a,
{
    Box::new(move |n| tracing::dispatcher::with_default(logs, || time(rt, &service, n)))
}

/// Mean time per request of `requests` requests through `service`, ns.
fn time<S>(rt: &tokio::runtime::Runtime, service: &S, requests: usize) -> f64
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
{
    let prepared: Vec<Request<Body>> = (0..requests).map(|_| fixtures::request()).collect();
    let started = Instant::now();
    rt.block_on(async {
        for request in prepared {
            let Ok(response) = service.clone().oneshot(request).await;
            drop(std::hint::black_box(response));
        }
    });
    #[allow(clippy::cast_precision_loss)]
    let per_request = started.elapsed().as_nanos() as f64 / requests as f64;
    per_request
}

/// Runs `timers` (the first is the baseline) in `rounds`, rotating the order each round;
/// returns each one's per-round times.
fn rounds(timers: &[Timer<'_>], rounds: usize, requests: usize) -> Vec<Vec<f64>> {
    for warm_up in timers {
        warm_up(requests / 10);
    }
    let mut per_round = vec![Vec::new(); timers.len()];
    for round in 0..rounds {
        for k in 0..timers.len() {
            let i = (k + round) % timers.len();
            per_round[i].push(timers[i](requests));
        }
    }
    per_round
}

fn print(names: &[&str], times: &[Vec<f64>], out: &mut Vec<report::InProcess>) {
    let bare = &times[0];
    for (name, each) in names.iter().zip(times) {
        let mut ratios: Vec<f64> = each.iter().zip(bare).map(|(b, a)| b / a).collect();
        let mut values = each.clone();
        let median = report::median(&mut values);
        let ratio = report::median(&mut ratios);
        let added = median - report::median(&mut bare.clone());
        println!("  {name:<28} {median:>8.0} ns  {ratio:>5.2}x  ({added:+.0} ns)");
        out.push(report::InProcess {
            name: (*name).to_owned(),
            ns: median,
            ratio,
        });
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (round_count, requests) = (
        cli::number(&args, "--rounds", 15),
        cli::number(&args, "--requests", 20_000),
    );
    if !servers::pin_current(0) {
        println!("note: could not pin to core 0");
    }
    let Some(rt) = cli::runtime() else {
        return ExitCode::FAILURE;
    };
    let metrics = fixtures::metrics();
    let pretty = fixtures::log_dispatch(LogFormat::Pretty);
    let json = fixtures::log_dispatch(LogFormat::Json);
    let none = tracing::Dispatch::none();
    let dev_null = fixtures::log_dispatch_dev_null(LogFormat::Pretty);
    let (queued, pretty_writer) = fixtures::log_dispatch_non_blocking(LogFormat::Pretty);
    let (queued_json, json_writer) = fixtures::log_dispatch_non_blocking(LogFormat::Json);

    let names = [
        "a_bare",
        "b_chassis",
        "b_chassis_access_log_info",
        "b_chassis_access_log_dev_null",
        "b_chassis_access_log_non_blocking",
        "b_chassis_no_subscriber",
        "c_chassis_json_logs",
        "c_chassis_json_access_log_non_blocking",
    ];
    let timers = [
        timer(&rt, fixtures::bare(), &pretty),
        timer(&rt, fixtures::chassis(metrics.clone()), &pretty),
        timer(
            &rt,
            fixtures::chassis_with(metrics.clone(), AccessLog::Info),
            &pretty,
        ),
        timer(
            &rt,
            fixtures::chassis_with(metrics.clone(), AccessLog::Info),
            &dev_null,
        ),
        timer(
            &rt,
            fixtures::chassis_with(metrics.clone(), AccessLog::Info),
            &queued,
        ),
        timer(&rt, fixtures::chassis(metrics.clone()), &none),
        timer(&rt, fixtures::chassis(metrics.clone()), &json),
        timer(
            &rt,
            fixtures::chassis_with(metrics.clone(), AccessLog::Info),
            &queued_json,
        ),
    ];
    println!(
        "in-process, interleaved: {round_count} rounds of {requests} requests; median ns per request, median ratio to a_bare\n"
    );
    let mut results = Vec::new();
    print(
        &names,
        &rounds(&timers, round_count, requests),
        &mut results,
    );
    let dropped = pretty_writer.dropped_lines() + json_writer.dropped_lines();
    println!("  (access-log lines dropped by the non-blocking writers: {dropped})");

    // Trace export at sample_ratio 0.01 (almost every request unsampled), then every request
    // sampled; each phase measures the bare router again, as its baseline.
    let receiver = fixtures::otlp_receiver();
    for (ratio, name) in [
        (0.01, "c_chassis_otlp_unsampled"),
        (1.0, "c_chassis_otlp_export"),
    ] {
        let (dispatch, guard, exports) = fixtures::otlp_export(receiver, ratio);
        let timers = [
            timer(&rt, fixtures::bare(), &dispatch),
            timer(
                &rt,
                fixtures::chassis_exporting(metrics.clone(), &guard),
                &dispatch,
            ),
        ];
        let bare = format!("a_bare (sample_ratio {ratio})");
        print(
            &[bare.as_str(), name],
            &rounds(&timers, round_count, requests),
            &mut results,
        );
        drop(timers);
        if let Err(error) = exports.block_on(guard.shutdown(std::time::Duration::from_secs(5))) {
            eprintln!("trace export did not shut down cleanly: {error}");
        }
    }
    let path = report::inprocess_path();
    match serde_json::to_string_pretty(&results).map(|json| std::fs::write(&path, json)) {
        Ok(Ok(())) => println!("\nwrote {}", path.display()),
        Ok(Err(error)) => eprintln!("cannot write {}: {error}", path.display()),
        Err(error) => eprintln!("cannot encode the results: {error}"),
    }
    ExitCode::SUCCESS
}
