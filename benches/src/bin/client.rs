//! The resilient client's cost over loopback, **interleaved**: the clients of the `client`
//! criterion bench (a bare hyper-util client and `chassis::client::HttpClient`), each timed
//! over a batch of sequential requests in turn, round after round, against the same bare
//! axum server, so a drift of the machine hits both alike. Reports each client's median time
//! per request and the median of the per-round throughput ratios (bare time / chassis time).
//!
//! Run: `cargo run --release -p chassis-benches --bin client [-- --rounds R --requests N]`
//! (defaults 20 rounds of 2,000 requests; about 15 s). The server runs on core 0 and the
//! clients on core 1 when they can be pinned.

use std::process::ExitCode;
use std::time::Instant;

use chassis::client::{HttpClient, Route};
use chassis::discovery::{Endpoint, Endpoints};
use chassis::resilience::config::ClientResilienceConfig;
use chassis_benches::{cli, fixtures, report, servers};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

type Bare = Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

/// Mean time per request of `n` sequential requests through the bare client, ns; `None`
/// when one fails.
async fn bare_batch(client: &Bare, uri: &http::Uri, n: usize) -> Option<f64> {
    let started = Instant::now();
    for _ in 0..n {
        let response = client.get(uri.clone()).await.ok()?;
        std::hint::black_box(response.into_body().collect().await.ok()?);
    }
    Some(per_request(started, n))
}

/// The same through the chassis client.
async fn chassis_batch(client: &HttpClient, n: usize) -> Option<f64> {
    let started = Instant::now();
    for _ in 0..n {
        let route = Route::new("/items/{id}").param("id", 1);
        let reply = client.get(route).send().await.ok()?;
        std::hint::black_box(reply.into_response().into_body().collect().await.ok()?);
    }
    Some(per_request(started, n))
}

#[allow(clippy::cast_precision_loss)]
fn per_request(started: Instant, n: usize) -> f64 {
    started.elapsed().as_nanos() as f64 / n.max(1) as f64
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (rounds, requests) = (
        cli::number(&args, "--rounds", 20),
        cli::number(&args, "--requests", 2_000),
    );
    let addr = fixtures::serve_on_thread(fixtures::routes(), Some(0));
    if !servers::pin_current(1) {
        println!("note: could not pin the clients to core 1");
    }
    let Some(rt) = cli::runtime() else {
        return ExitCode::FAILURE;
    };
    let Ok(uri) = format!("http://{addr}{}", fixtures::PATH).parse::<http::Uri>() else {
        eprintln!("bad uri");
        return ExitCode::FAILURE;
    };
    let bare: Bare = Client::builder(TokioExecutor::new()).build_http();
    let chassis = rt.block_on(async {
        let endpoints = Endpoints::fixed("items", [Endpoint::new(addr)]);
        HttpClient::new("items", &ClientResilienceConfig::default(), endpoints)
    });
    let chassis = match chassis {
        Ok(client) => client,
        Err(error) => {
            eprintln!("chassis client: {error}");
            return ExitCode::FAILURE;
        }
    };
    let measured = rt.block_on(async {
        // Warm-up: connections open, pools and caches filled.
        bare_batch(&bare, &uri, requests / 4).await?;
        chassis_batch(&chassis, requests / 4).await?;
        let (mut bare_ns, mut chassis_ns) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            if round % 2 == 0 {
                bare_ns.push(bare_batch(&bare, &uri, requests).await?);
                chassis_ns.push(chassis_batch(&chassis, requests).await?);
            } else {
                chassis_ns.push(chassis_batch(&chassis, requests).await?);
                bare_ns.push(bare_batch(&bare, &uri, requests).await?);
            }
        }
        Some((bare_ns, chassis_ns))
    });
    let Some((mut bare_ns, mut chassis_ns)) = measured else {
        eprintln!("a request failed");
        return ExitCode::FAILURE;
    };
    let mut ratios: Vec<f64> = bare_ns
        .iter()
        .zip(&chassis_ns)
        .map(|(a, b)| a / b)
        .collect();
    let (lowest, highest) = ratios.iter().fold((f64::INFINITY, 0.0_f64), |(lo, hi), r| {
        (lo.min(*r), hi.max(*r))
    });
    println!(
        "client over loopback, interleaved: {rounds} rounds of {requests} sequential requests"
    );
    println!(
        "  bare hyper-util client   {:>8.0} ns / request",
        report::median(&mut bare_ns)
    );
    println!(
        "  chassis HttpClient       {:>8.0} ns / request",
        report::median(&mut chassis_ns)
    );
    println!(
        "  throughput ratio (bare time / chassis time): {:.3} median, rounds {lowest:.3}-{highest:.3}",
        report::median(&mut ratios)
    );
    ExitCode::SUCCESS
}
