//! Closed-path cost of a circuit breaker call (admit + record success), single-threaded and
//! with two threads contending on one breaker, against `failsafe` and `tower-resilience` in
//! the same run: first through tower (the `Breaker` service around a service that answers at
//! once, against that service alone), then through the breakers' own APIs.
//!
//! Run: `cargo bench -p chassis-benches --bench breaker -- --warm-up-time 1 --measurement-time 2`
//!
//! The `x2` variants run the same loop on two threads sharing one breaker; the time reported
//! is per call per thread (wall time / iterations), so `x2 / x1` is the contention factor.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use chassis::resilience::breaker::{
    BreakerConfig, CircuitBreaker, Clock, CoarseClock, ErrorClassifier, MonotonicClock, Outcome,
};
use criterion::{Criterion, criterion_group, criterion_main};
use failsafe::CircuitBreaker as _;
use tower::{Layer, Service, ServiceExt, service_fn};

/// Runs `op` `iters` times on each of `threads` threads; returns the wall time.
fn contended<F: Fn() + Sync>(threads: usize, iters: u64, op: F) -> Duration {
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..iters {
                    op();
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

/// Runs a tower service `iters` times on each of `threads` threads, each on its own
/// current-thread runtime; returns the wall time.
fn contended_tower<S>(threads: usize, iters: u64, svc: &S) -> Duration
where
    S: Service<()> + Clone + Send,
    S::Error: std::fmt::Debug,
{
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let mut svc = svc.clone();
            let barrier = &barrier;
            s.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .expect("runtime");
                barrier.wait();
                rt.block_on(async {
                    for _ in 0..iters {
                        let ready = svc.ready().await.expect("ready");
                        black_box(ready.call(()).await.expect("call"));
                    }
                });
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

fn unit_service()
-> impl Service<(), Response = (), Error = std::io::Error, Future: Send> + Clone + Send {
    service_fn(|()| std::future::ready(Ok::<_, std::io::Error>(())))
}

/// Answers `200 OK` at once.
fn ok_service()
-> impl Service<(), Response = http::Response<()>, Error = std::io::Error, Future: Send> + Clone + Send
{
    service_fn(|()| std::future::ready(Ok::<_, std::io::Error>(http::Response::new(()))))
}

/// The default configuration; `clock` picks the time source (`None`: no slow-call detection,
/// so no clock on the closed path).
fn chassis_breaker(clock: Option<&str>) -> CircuitBreaker {
    let mut config = BreakerConfig::default();
    let builder = CircuitBreaker::builder("bench");
    let builder = match clock {
        Some("precise") => builder.clock(MonotonicClock::new()),
        Some(_) => builder,
        None => {
            config.slow_call_duration = None;
            builder
        }
    };
    builder.config(config).build().expect("valid config")
}

fn breaker(c: &mut Criterion) {
    let mut group = c.benchmark_group("breaker_closed_call");

    // First the tower path, as services around a service that answers at once: what a user
    // of `breaker.layer()` pays per call (default configuration). `unit`: the service answers
    // `()` and the breaker judges with `ErrorClassifier`; `http`: it answers `200 OK` and the
    // breaker judges with the default `HttpClassifier`. `tower_box_errors` is the floor of
    // any layer with `BoxError` errors (`map_err(Into::into)`).
    for threads in [1usize, 2] {
        group.bench_function(format!("tower_bare/x{threads}"), |bench| {
            bench.iter_custom(|iters| contended_tower(threads, iters, &unit_service()));
        });
        let b = chassis_breaker(Some("coarse"));
        let svc = b
            .layer()
            .with_classifier(ErrorClassifier)
            .layer(unit_service());
        group.bench_function(format!("chassis_tower/x{threads}"), |bench| {
            bench.iter_custom(|iters| contended_tower(threads, iters, &svc));
        });
        group.bench_function(format!("tower_bare_http/x{threads}"), |bench| {
            bench.iter_custom(|iters| contended_tower(threads, iters, &ok_service()));
        });
        let svc = ok_service().map_err(Into::<tower::BoxError>::into);
        group.bench_function(format!("tower_box_errors_http/x{threads}"), |bench| {
            bench.iter_custom(|iters| contended_tower(threads, iters, &svc));
        });
        let b = chassis_breaker(Some("coarse"));
        let svc = b.layer().layer(ok_service());
        group.bench_function(format!("chassis_tower_http/x{threads}"), |bench| {
            bench.iter_custom(|iters| contended_tower(threads, iters, &svc));
        });
        let layer = tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
            .build()
            .expect("valid config");
        let svc = layer.layer(unit_service());
        group.bench_function(format!("tower_resilience/x{threads}"), |bench| {
            bench.iter_custom(|iters| contended_tower(threads, iters, &svc));
        });
    }

    for threads in [1usize, 2] {
        // The breakers' own APIs: admit, then record a success.
        for (name, clock) in [
            ("chassis_permit", Some("coarse")),
            ("chassis_permit_precise_clock", Some("precise")),
            ("chassis_permit_no_clock", None),
        ] {
            let b = chassis_breaker(clock);
            group.bench_function(format!("{name}/x{threads}"), |bench| {
                bench.iter_custom(|iters| {
                    contended(threads, iters, || {
                        let permit = b.try_acquire().expect("closed");
                        permit.record(black_box(Outcome::Success));
                    })
                });
            });
        }
        let b = chassis_breaker(Some("coarse"));
        group.bench_function(format!("chassis_owned_permit/x{threads}"), |bench| {
            bench.iter_custom(|iters| {
                contended(threads, iters, || {
                    let permit = b.try_acquire_owned().expect("closed");
                    permit.record(black_box(Outcome::Success));
                })
            });
        });
        let fs = failsafe::Config::new().build();
        group.bench_function(format!("failsafe_call/x{threads}"), |bench| {
            bench.iter_custom(|iters| {
                contended(threads, iters, || {
                    black_box(fs.call(|| Ok::<u32, ()>(black_box(1))).expect("closed"));
                })
            });
        });
    }
    group.finish();
}

/// What one clock read costs on this machine (the breaker reads two per call when slow-call
/// detection is on).
fn clocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("clock_read");
    group.bench_function("std_instant", |b| b.iter(|| black_box(Instant::now())));
    let precise = MonotonicClock::new();
    group.bench_function("chassis_monotonic", |b| b.iter(|| black_box(precise.now())));
    let coarse = CoarseClock::shared();
    group.bench_function("chassis_coarse", |b| b.iter(|| black_box(coarse.now())));
    group.finish();

    // The floor: what one uncontended atomic read-modify-write and an `Arc` clone cost here.
    let mut group = c.benchmark_group("baseline");
    let counter = std::sync::atomic::AtomicU64::new(0);
    group.bench_function("atomic_fetch_add", |b| {
        b.iter(|| black_box(counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
    });
    let arc = std::sync::Arc::new(0u64);
    group.bench_function("arc_clone_drop", |b| {
        b.iter(|| black_box(std::sync::Arc::clone(&arc)));
    });
    group.finish();
}

criterion_group!(benches, breaker, clocks);
criterion_main!(benches);
