//! Criterion benchmarks of the retry decision and the retry budget.
//!
//! Run: `cargo bench -p chassis-benches --bench retry`.

use std::{hint::black_box, time::Duration};

use chassis::resilience::{
    config::RetryConfig,
    retry::{Decision, RetryBudget, RetryPolicy},
};
use criterion::{Criterion, criterion_group, criterion_main};
use tower::BoxError;

/// An attempt's result, as the retry layer sees it.
type AttemptResult = Result<http::Response<()>, BoxError>;

fn response(status: u16) -> http::Response<()> {
    http::Response::builder()
        .status(status)
        .body(())
        .expect("valid response")
}

fn decision(c: &mut Criterion) {
    let policy = RetryPolicy::from_config(&RetryConfig::default()).expect("valid");
    let budget = RetryBudget::new(Duration::from_secs(10), 10, 20).expect("valid");
    let ok: AttemptResult = Ok(response(200));
    let unavailable: AttemptResult = Ok(response(503));

    c.bench_function("retry/decide_success", |b| {
        b.iter(|| policy.decide(black_box(1), true, black_box(&ok), None, &budget));
    });
    c.bench_function("retry/decide_503_with_budget", |b| {
        b.iter(|| {
            // One original request deposits; the retry withdraws (and may be refused).
            budget.deposit();
            let decision =
                policy.decide(black_box(1), true, black_box(&unavailable), None, &budget);
            black_box(matches!(decision, Decision::Retry(_)))
        });
    });
}

fn budget(c: &mut Criterion) {
    let budget = RetryBudget::new(Duration::from_secs(10), 10, 20).expect("valid");
    c.bench_function("retry/budget_deposit", |b| b.iter(|| budget.deposit()));
    c.bench_function("retry/budget_deposit_withdraw", |b| {
        b.iter(|| {
            budget.deposit();
            black_box(budget.withdraw())
        });
    });
}

criterion_group!(benches, decision, budget);
criterion_main!(benches);
