//! The loopback bench's results as text: the per-round table, the medians of the ratios,
//! and notes where something other than the server limited a figure.

use crate::report::{OverheadReport, median};

/// The client CPU share above which the client, not the server, may be the bottleneck.
const CLIENT_BOUND: f64 = 85.0;
/// The servers' share of their core below which the server-bound phase may not be
/// server-bound.
const SERVER_BOUND: f64 = 90.0;
/// Points between the two servers' shares of the core above which the server-bound split
/// is not even.
const UNEVEN_SHARES: f64 = 5.0;

/// Prints the per-round table, the medians of the ratios and the notes on what limits them.
pub fn print(report: &OverheadReport) {
    println!(
        "\n{} s per phase, {} connections, constant rate {:.0} req/s\n",
        report.seconds, report.connections, report.rate_rps
    );
    println!(
        "{:<6} {:<8} {:>10} {:>12} {:>11} {:>10} {:>9} {:>9} {:>13} {:>13} {:>11} {:>9} {:>9} {:>7}",
        "round",
        "server",
        "req/s",
        "cpu µs/req",
        "client cpu",
        "rate",
        "p50 µs",
        "p99 µs",
        "cpu µs/req@r",
        "cpu µs/req 2x",
        "req/s bound",
        "srv cpu",
        "rss KiB",
        "errors"
    );
    print_rounds(report);
    print_notes(report);
    let r = &report.ratios;
    println!(
        "\nB/A, median of rounds: server CPU per request {:.3} (closed loop) {:.3} (constant rate) {:.3} (paired), \
         throughput {:.3} (hyper client) {:.3} (server-bound), p50 {:.3}, p99 {:.3}, idle RSS {:.2}",
        r.cpu_per_request,
        r.paced_cpu_per_request,
        r.paired_cpu_per_request,
        r.throughput,
        r.server_bound_throughput,
        r.p50,
        r.p99,
        r.idle_rss
    );
    print_bounds(report);
    println!(
        "\n{:<8} {:>22} {:>14}",
        "server", "exec-to-ready ms", "idle RSS KiB"
    );
    for s in &report.startup {
        let mut ready = s.exec_to_ready_ms.clone();
        let min = ready.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{:<8} {:>10.1} (min {:>5.1}) {:>14}",
            s.kind,
            median(&mut ready),
            min,
            s.idle_rss_kib
        );
    }
}

/// The per-round table.
fn print_rounds(report: &OverheadReport) {
    for (i, round) in report.rounds.iter().enumerate() {
        for (name, run) in [("bare", &round.bare), ("chassis", &round.chassis)] {
            println!(
                "{:<6} {:<8} {:>10.0} {:>12.2} {:>10.0}% {:>10.0} {:>9.0} {:>9.0} {:>13.2} {:>13.2} {:>11.0} {:>8.0}% {:>9} {:>7}",
                i + 1,
                name,
                run.throughput_rps,
                run.cpu_us_per_request,
                run.client_cpu_percent,
                run.paced_rps,
                run.p50_us,
                run.p99_us,
                run.paced_cpu_us_per_request,
                run.paired_cpu_us_per_request,
                run.server_bound_rps,
                run.server_bound_server_cpu_percent,
                run.rss_kib_after,
                run.errors
            );
        }
        println!(
            "{:<6} {:<8} {:>10.3} {:>12.3} {:>11} {:>10} {:>9.3} {:>9.3} {:>13.3} {:>13.3} {:>11.3}",
            i + 1,
            "B/A",
            round.chassis.throughput_rps / round.bare.throughput_rps,
            round.chassis.cpu_us_per_request / round.bare.cpu_us_per_request,
            "",
            "",
            round.chassis.p50_us / round.bare.p50_us,
            round.chassis.p99_us / round.bare.p99_us,
            round.chassis.paced_cpu_us_per_request / round.bare.paced_cpu_us_per_request,
            round.chassis.paired_cpu_us_per_request / round.bare.paired_cpu_us_per_request,
            round.chassis.server_bound_rps / round.bare.server_bound_rps,
        );
    }
}

/// Notes on the rounds whose figures something other than the server limited.
fn print_notes(report: &OverheadReport) {
    for (i, round) in report.rounds.iter().enumerate() {
        for (name, run) in [("bare", &round.bare), ("chassis", &round.chassis)] {
            if run.paced_rps < 0.95 * report.rate_rps {
                println!(
                    "NOTE: round {} {name} sustained only {:.0} of {:.0} req/s: its latency shows saturation, not service time",
                    i + 1,
                    run.paced_rps,
                    report.rate_rps
                );
            }
        }
    }
    for (i, round) in report.rounds.iter().enumerate() {
        for (name, run) in [("bare", &round.bare), ("chassis", &round.chassis)] {
            if run.paired_rps > 0.0 && run.paired_rps < 0.95 * report.rate_rps / 2.0 {
                println!(
                    "NOTE: round {} {name} sustained only {:.0} of {:.0} req/s in the paired phase",
                    i + 1,
                    run.paired_rps,
                    report.rate_rps / 2.0
                );
            }
        }
        let shares = [
            round.bare.server_bound_server_cpu_percent,
            round.chassis.server_bound_server_cpu_percent,
        ];
        if (shares[0] - shares[1]).abs() > UNEVEN_SHARES {
            println!(
                "NOTE: round {} server-bound: the core was split {:.0}% / {:.0}%, not evenly: compare \
                 the servers' requests per CPU-second instead",
                i + 1,
                shares[0],
                shares[1]
            );
        }
    }
}

/// Notes on whether the throughput figures are the servers' or the load generators'.
fn print_bounds(report: &OverheadReport) {
    let client_max = report
        .rounds
        .iter()
        .flat_map(|r| [r.bare.client_cpu_percent, r.chassis.client_cpu_percent])
        .fold(0.0, f64::max);
    if client_max > CLIENT_BOUND {
        println!(
            "NOTE: the hyper load generator used up to {client_max:.0}% of its core: it, not the server, limits \
             throughput, so that throughput ratio flatters the stack. The server-bound throughput and server CPU \
             per request are the figures that count."
        );
    }
    let core_min = report
        .rounds
        .iter()
        .map(|r| r.bare.server_bound_server_cpu_percent + r.chassis.server_bound_server_cpu_percent)
        .fold(f64::INFINITY, f64::min);
    if core_min < SERVER_BOUND {
        println!(
            "NOTE: in the server-bound phase the servers used only {core_min:.0}% of their core: the load \
             generator may have limited them."
        );
    }
}
