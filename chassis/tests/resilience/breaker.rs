//! Behaviour of the circuit breaker, after Resilience4j's `CircuitBreakerStateMachineTest`
//! (the cases, not the code). Time is a `ManualClock`; nothing sleeps.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use chassis::resilience::breaker::{
    BreakerConfig, BreakerOpen, CircuitBreaker, ErrorClassifier, ManualClock, Outcome, State,
    Transition, WindowConfig, WindowKind,
};

const SEC: Duration = Duration::from_secs(1);

/// A count window of `size` calls judged after `minimum` calls, 50 % thresholds, 1 s slow
/// calls, 5 s in open, 3 trial calls.
fn count_config(size: u32, minimum: u32) -> BreakerConfig {
    BreakerConfig {
        failure_rate_threshold: 50.0,
        slow_call_rate_threshold: 50.0,
        slow_call_duration: Some(SEC),
        minimum_calls: minimum,
        window: WindowConfig {
            kind: WindowKind::Count,
            size,
        },
        wait_in_open: 5 * SEC,
        half_open_calls: 3,
        ..BreakerConfig::default()
    }
}

fn time_config(seconds: u32, minimum: u32) -> BreakerConfig {
    BreakerConfig {
        window: WindowConfig {
            kind: WindowKind::Time,
            size: seconds,
        },
        ..count_config(1, minimum)
    }
}

fn build(config: BreakerConfig) -> (CircuitBreaker, ManualClock) {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder("test")
        .config(config)
        .clock(clock.clone())
        .build()
        .expect("valid config");
    (breaker, clock)
}

fn call(breaker: &CircuitBreaker, outcome: Outcome) -> Result<(), BreakerOpen> {
    breaker.try_acquire().map(|permit| permit.record(outcome))
}

fn calls(breaker: &CircuitBreaker, outcome: Outcome, n: usize) {
    for i in 0..n {
        call(breaker, outcome).unwrap_or_else(|e| panic!("call {i} rejected: {e}"));
    }
}

/// A call that takes `took` on the manual clock.
fn timed_call(breaker: &CircuitBreaker, clock: &ManualClock, outcome: Outcome, took: Duration) {
    let permit = breaker.try_acquire().expect("admitted");
    clock.advance(took);
    permit.record(outcome);
}

fn open_breaker(breaker: &CircuitBreaker, clock: &ManualClock) {
    let _ = clock;
    while breaker.state() == State::Closed {
        call(breaker, Outcome::Failure).expect("closed admits");
    }
    assert_eq!(breaker.state(), State::Open);
}

// ---- closed state and the count window ----

#[test]
fn starts_closed_and_admits_calls() {
    let (b, _) = build(count_config(5, 5));
    assert_eq!(b.name(), "test");
    assert_eq!(b.state(), State::Closed);
    calls(&b, Outcome::Success, 20);
    let m = b.metrics();
    assert_eq!((m.calls, m.failed_calls, m.rejected_calls), (5, 0, 0));
}

#[test]
fn opens_when_failure_rate_reaches_threshold() {
    let (b, _) = build(count_config(4, 4));
    calls(&b, Outcome::Success, 2);
    calls(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Closed, "3 calls: below minimum");
    calls(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open, "2 of 4 = 50 % >= 50 %");
}

#[test]
fn stays_closed_below_failure_threshold() {
    let (b, _) = build(count_config(10, 10));
    for _ in 0..5 {
        calls(&b, Outcome::Success, 3);
        calls(&b, Outcome::Failure, 1);
    }
    assert_eq!(b.state(), State::Closed);
    // the last 10 of S S S F x5 hold 3 failures
    assert_eq!(b.metrics().failure_rate, Some(30.0));
}

#[test]
fn does_not_judge_below_minimum_calls() {
    let (b, _) = build(count_config(10, 5));
    calls(&b, Outcome::Failure, 4);
    assert_eq!(b.state(), State::Closed);
    let m = b.metrics();
    assert_eq!(m.failure_rate, None, "not judged yet");
    assert_eq!(m.failed_calls, 4);
    calls(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn a_success_reaching_minimum_calls_can_open() {
    let (b, _) = build(count_config(10, 4));
    calls(&b, Outcome::Failure, 3);
    assert_eq!(b.state(), State::Closed);
    calls(&b, Outcome::Success, 1);
    assert_eq!(b.state(), State::Open, "3 of 4 failed once judged");
}

#[test]
fn minimum_calls_is_capped_at_count_window_size() {
    let (b, _) = build(count_config(3, 100));
    calls(&b, Outcome::Failure, 3);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn count_window_forgets_the_oldest_outcomes() {
    let (b, _) = build(count_config(4, 4));
    calls(&b, Outcome::Failure, 1);
    calls(&b, Outcome::Success, 3);
    assert_eq!(b.metrics().failed_calls, 1);
    calls(&b, Outcome::Success, 1);
    assert_eq!(b.metrics().failed_calls, 0, "the failure slid out");
    calls(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Closed, "1 of 4");
    calls(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open, "2 of 4");
}

#[test]
fn ignored_outcomes_are_not_recorded() {
    let (b, _) = build(count_config(4, 4));
    calls(&b, Outcome::Ignored, 10);
    assert_eq!(b.metrics().calls, 0);
    let permit = b.try_acquire().expect("admitted");
    drop(permit); // dropped without a record: ignored too
    assert_eq!(b.metrics().calls, 0);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn failure_threshold_can_be_a_fraction_of_a_percent() {
    let mut cfg = count_config(1000, 1000);
    cfg.failure_rate_threshold = 0.5;
    let (b, _) = build(cfg);
    calls(&b, Outcome::Success, 996);
    calls(&b, Outcome::Failure, 4);
    assert_eq!(b.state(), State::Closed, "0.4 %");
    calls(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open, "0.5 %");
}

// ---- slow calls ----

#[test]
fn opens_when_slow_call_rate_reaches_threshold() {
    let (b, clock) = build(count_config(4, 4));
    timed_call(&b, &clock, Outcome::Success, SEC / 2);
    timed_call(&b, &clock, Outcome::Success, SEC / 2);
    timed_call(&b, &clock, Outcome::Success, 2 * SEC);
    assert_eq!(b.state(), State::Closed);
    timed_call(&b, &clock, Outcome::Success, 2 * SEC);
    assert_eq!(b.state(), State::Open, "2 of 4 slow");
    assert_eq!(b.metrics().slow_calls, 2);
}

#[test]
fn a_call_exactly_at_the_slow_duration_is_not_slow() {
    let (b, clock) = build(count_config(2, 2));
    timed_call(&b, &clock, Outcome::Success, SEC);
    timed_call(&b, &clock, Outcome::Success, SEC);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().slow_calls, 0);
}

#[test]
fn slow_failures_count_as_failures_and_as_slow() {
    let mut cfg = count_config(4, 4);
    cfg.failure_rate_threshold = 100.0;
    let (b, clock) = build(cfg);
    timed_call(&b, &clock, Outcome::Failure, 2 * SEC);
    timed_call(&b, &clock, Outcome::Success, Duration::ZERO);
    let m = b.metrics();
    assert_eq!((m.failed_calls, m.slow_calls), (1, 1));
    timed_call(&b, &clock, Outcome::Failure, 2 * SEC);
    timed_call(&b, &clock, Outcome::Success, Duration::ZERO);
    assert_eq!(b.state(), State::Open, "opened by the slow rate, 50 %");
}

#[test]
fn caller_measured_durations_are_used() {
    let (b, _) = build(count_config(2, 2));
    for _ in 0..2 {
        let permit = b.try_acquire().expect("admitted");
        permit.record_with_duration(Outcome::Success, 3 * SEC);
    }
    assert_eq!(b.state(), State::Open);
}

#[test]
fn slow_call_detection_can_be_turned_off() {
    let mut cfg = count_config(2, 2);
    cfg.slow_call_duration = None;
    let (b, clock) = build(cfg);
    timed_call(&b, &clock, Outcome::Success, 100 * SEC);
    timed_call(&b, &clock, Outcome::Success, 100 * SEC);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().slow_call_rate, None);
}

// ---- the time window ----

#[test]
fn time_window_opens_on_failure_rate() {
    let (b, clock) = build(time_config(10, 4));
    calls(&b, Outcome::Success, 2);
    clock.advance(SEC);
    calls(&b, Outcome::Failure, 1);
    clock.advance(SEC);
    assert_eq!(b.state(), State::Closed);
    calls(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn time_window_forgets_expired_seconds() {
    let (b, clock) = build(time_config(5, 4));
    calls(&b, Outcome::Failure, 3);
    assert_eq!(b.metrics().calls, 3);
    clock.advance(5 * SEC);
    assert_eq!(b.metrics().calls, 0, "all five seconds passed");
    calls(&b, Outcome::Success, 1);
    calls(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Closed, "the old failures no longer count");
}

#[test]
fn time_window_slides_second_by_second() {
    let (b, clock) = build(time_config(3, 1));
    let mut cfg_calls = Vec::new();
    for _ in 0..3 {
        calls(&b, Outcome::Success, 2);
        cfg_calls.push(b.metrics().calls);
        clock.advance(SEC);
    }
    assert_eq!(cfg_calls, [2, 4, 6]);
    assert_eq!(b.metrics().calls, 4, "the first second expired");
    clock.advance(SEC);
    assert_eq!(b.metrics().calls, 2);
}

#[test]
fn time_window_minimum_counts_only_calls_in_the_window() {
    let (b, clock) = build(time_config(2, 3));
    calls(&b, Outcome::Failure, 2);
    clock.advance(2 * SEC);
    calls(&b, Outcome::Failure, 2);
    assert_eq!(b.state(), State::Closed, "only 2 calls in the window");
    calls(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open);
}

// ---- open ----

#[test]
fn open_rejects_calls_until_the_wait_is_over() {
    let (b, clock) = build(count_config(2, 2));
    open_breaker(&b, &clock);
    let err = b.try_acquire().expect_err("open rejects");
    assert_eq!(err.state(), State::Open);
    assert_eq!(err.to_string(), "circuit breaker is open");
    clock.advance(Duration::from_nanos(4_999_999_999));
    assert!(b.try_acquire().is_err());
    assert_eq!(b.metrics().rejected_calls, 2);
    clock.advance(Duration::from_nanos(1));
    let permit = b.try_acquire().expect("wait over: a trial call");
    assert_eq!(b.state(), State::HalfOpen);
    drop(permit);
}

#[test]
fn without_automatic_transition_the_state_stays_open_until_a_call() {
    let (b, clock) = build(count_config(2, 2));
    open_breaker(&b, &clock);
    clock.advance(60 * SEC);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn automatic_transition_reports_half_open_after_the_wait() {
    let mut cfg = count_config(2, 2);
    cfg.automatic_transition = true;
    let (b, clock) = build(cfg);
    open_breaker(&b, &clock);
    clock.advance(4 * SEC);
    assert_eq!(b.state(), State::Open);
    clock.advance(SEC);
    assert_eq!(b.state(), State::HalfOpen);
}

#[test]
fn outcomes_of_calls_admitted_before_opening_are_ignored() {
    let (b, clock) = build(count_config(2, 2));
    let late = b.try_acquire().expect("admitted while closed");
    open_breaker(&b, &clock);
    clock.advance(5 * SEC);
    let trial = b.try_acquire().expect("trial");
    assert_eq!(b.state(), State::HalfOpen);
    late.record(Outcome::Failure);
    let m = b.metrics();
    assert_eq!(m.calls, 0, "the late outcome is not a trial");
    trial.record(Outcome::Success);
    assert_eq!(b.metrics().calls, 1);
}

// ---- half-open ----

#[test]
fn half_open_admits_only_the_permitted_trial_calls() {
    let (b, clock) = build(count_config(2, 2));
    open_breaker(&b, &clock);
    clock.advance(5 * SEC);
    let trials: Vec<_> = (0..3).map(|_| b.try_acquire().expect("trial")).collect();
    let err = b.try_acquire().expect_err("no trial slot left");
    assert_eq!(err.state(), State::HalfOpen);
    for t in trials {
        t.record(Outcome::Success);
    }
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn half_open_closes_when_trials_succeed_with_a_fresh_window() {
    let (b, clock) = build(count_config(4, 4));
    open_breaker(&b, &clock);
    clock.advance(5 * SEC);
    calls(&b, Outcome::Success, 2);
    calls(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Closed, "1 of 3 trials failed: below 50 %");
    let m = b.metrics();
    assert_eq!(
        (m.calls, m.failed_calls),
        (0, 0),
        "closed starts with an empty window"
    );
    calls(&b, Outcome::Failure, 3);
    assert_eq!(b.state(), State::Closed, "below minimum again");
}

#[test]
fn half_open_reopens_when_trials_fail() {
    let (b, clock) = build(count_config(4, 4));
    open_breaker(&b, &clock);
    clock.advance(5 * SEC);
    calls(&b, Outcome::Failure, 2);
    assert_eq!(b.state(), State::HalfOpen, "waits for all trials");
    calls(&b, Outcome::Success, 1);
    assert_eq!(b.state(), State::Open, "2 of 3 failed");
    assert!(b.try_acquire().is_err(), "a new wait started");
    clock.advance(5 * SEC);
    assert!(b.try_acquire().is_ok());
}

#[test]
fn half_open_reopens_when_trials_are_slow() {
    let (b, clock) = build(count_config(4, 4));
    open_breaker(&b, &clock);
    clock.advance(5 * SEC);
    timed_call(&b, &clock, Outcome::Success, 2 * SEC);
    timed_call(&b, &clock, Outcome::Success, 2 * SEC);
    timed_call(&b, &clock, Outcome::Success, Duration::ZERO);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn a_trial_dropped_without_outcome_gives_its_slot_back() {
    let (b, clock) = build(count_config(2, 2));
    open_breaker(&b, &clock);
    clock.advance(5 * SEC);
    let held: Vec<_> = (0..3).map(|_| b.try_acquire().expect("trial")).collect();
    assert!(b.try_acquire().is_err());
    drop(held);
    let again: Vec<_> = (0..3)
        .map(|_| b.try_acquire().expect("slots back"))
        .collect();
    assert!(b.try_acquire().is_err());
    for p in again {
        p.record(Outcome::Ignored); // ignored also gives the slot back
    }
    calls(&b, Outcome::Success, 3);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn trials_that_hang_past_the_maximum_wait_count_as_failed() {
    let config = BreakerConfig {
        max_wait_in_half_open: 10 * SEC,
        ..count_config(2, 2)
    };
    let (b, clock) = build(config);
    open_breaker(&b, &clock);
    clock.advance(5 * SEC);
    // Every trial slot taken by a call that never reports.
    let hung: Vec<_> = (0..3).map(|_| b.try_acquire().expect("trial")).collect();
    clock.advance(Duration::from_millis(9_999));
    assert_eq!(b.state(), State::HalfOpen, "not yet");
    assert_eq!(
        b.try_acquire().expect_err("no slot").state(),
        State::HalfOpen
    );
    clock.advance(Duration::from_millis(1));
    assert_eq!(b.state(), State::Open, "the hung trials count as failed");
    assert_eq!(b.try_acquire().expect_err("open").state(), State::Open);
    // Their late outcomes no longer matter; a fresh wait and fresh trials follow.
    for permit in hung {
        permit.record(Outcome::Success);
    }
    assert_eq!(b.state(), State::Open);
    clock.advance(5 * SEC);
    calls(&b, Outcome::Success, 3);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_call_finds_the_half_open_wait_expired_without_a_state_read() {
    let config = BreakerConfig {
        max_wait_in_half_open: 10 * SEC,
        ..count_config(2, 2)
    };
    let (b, clock) = build(config);
    open_breaker(&b, &clock);
    clock.advance(5 * SEC);
    let _hung: Vec<_> = (0..3).map(|_| b.try_acquire().expect("trial")).collect();
    clock.advance(10 * SEC);
    assert_eq!(b.try_acquire().expect_err("reopened").state(), State::Open);
}

#[test]
fn concurrent_half_open_callers_race_for_the_trial_slots() {
    let mut cfg = count_config(2, 2);
    cfg.half_open_calls = 5;
    let (b, clock) = build(cfg);
    open_breaker(&b, &clock);
    clock.advance(5 * SEC);
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let admitted = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (b, barrier, admitted) = (b.clone(), barrier.clone(), admitted.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut mine = Vec::new();
                for _ in 0..10 {
                    if let Ok(p) = b.try_acquire() {
                        admitted.fetch_add(1, Ordering::SeqCst);
                        mine.push(p);
                    }
                }
                barrier.wait(); // everyone has tried before anyone reports
                for p in mine {
                    p.record(Outcome::Success);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    assert_eq!(
        admitted.load(Ordering::SeqCst),
        5,
        "exactly the permitted trials"
    );
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().rejected_calls, 8 * 10 - 5);
}

#[test]
fn concurrent_closed_calls_are_all_counted() {
    let (b, _) = build(count_config(100_000, 100_000));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let b = b.clone();
            std::thread::spawn(move || calls(&b, Outcome::Success, 10_000))
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    let m = b.metrics();
    assert_eq!((m.calls, m.failed_calls), (40_000, 0));
}

/// Many threads race mixed outcomes (fast and slow, successes and failures; a quarter of the
/// calls fail, a quarter are slow) over a window of 8 calls, so every slot is overwritten by several threads at
/// once, round after round. After each round, a sequential replay must read exactly: 8 fast
/// successes empty the window of failures and slow calls (a count that drifted up shows),
/// then 7 slow failures read 7 and 7 (one that drifted down shows; the snapshot clamps only
/// at the edges). The thresholds are 100 %: a round in which 8 failures (or slow calls) in a
/// row opened the breaker (rare) is reset and not judged.
///
/// It fails when the aggregate is updated by a load and a store instead of one atomic add, or
/// when a slot's replacement can be interleaved (a load and a store with a preemption between
/// them). A plain load-then-store of a slot races in a window of a few nanoseconds that two
/// cores rarely hit (one run in five here); the window's own stress test, which checks the
/// aggregate against the slots, catches it every time.
#[test]
fn concurrent_mixed_outcomes_over_a_small_window_stay_consistent() {
    const SIZE: u64 = 8;
    const THREADS: usize = 8;
    const CALLS: usize = 20_000;
    const ROUNDS: usize = 10;
    let config = BreakerConfig {
        failure_rate_threshold: 100.0,
        slow_call_rate_threshold: 100.0,
        ..count_config(8, 8)
    };
    let (b, _) = build(config);
    let record = |b: &CircuitBreaker, outcome: Outcome, slow: bool| {
        let Ok(permit) = b.try_acquire() else {
            return; // opened by 8 bad calls in a row
        };
        let took = if slow { 2 * SEC } else { Duration::ZERO };
        permit.record_with_duration(outcome, took);
    };
    let counts = |b: &CircuitBreaker| {
        let m = b.metrics();
        (m.state, m.calls, m.failed_calls, m.slow_calls)
    };
    let start = Arc::new(Barrier::new(THREADS + 1));
    let done = Arc::new(Barrier::new(THREADS + 1));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (b, start, done) = (b.clone(), start.clone(), done.clone());
            std::thread::spawn(move || {
                let mut x = 0x9E37_79B9_7F4A_7C15_u64 ^ (t as u64 + 1);
                for _ in 0..ROUNDS {
                    start.wait();
                    for _ in 0..CALLS {
                        // xorshift: failed and slow, each an eighth of the calls
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let outcome = if x.is_multiple_of(8) {
                            Outcome::Failure
                        } else {
                            Outcome::Success
                        };
                        record(&b, outcome, (x >> 8).is_multiple_of(8));
                    }
                    done.wait();
                }
            })
        })
        .collect();
    let mut judged = 0;
    for round in 0..ROUNDS {
        start.wait();
        done.wait();
        if b.state() != State::Closed {
            b.reset();
            continue;
        }
        judged += 1;
        let (_, calls, failed, slow) = counts(&b);
        assert!(
            calls == SIZE && failed <= SIZE && slow <= SIZE,
            "round {round}: {calls} calls, {failed} failed, {slow} slow"
        );
        for _ in 0..SIZE {
            record(&b, Outcome::Success, false);
        }
        assert_eq!(
            counts(&b),
            (State::Closed, SIZE, 0, 0),
            "round {round}: after {SIZE} fast successes"
        );
        for _ in 0..SIZE - 1 {
            record(&b, Outcome::Failure, true);
        }
        assert_eq!(
            counts(&b),
            (State::Closed, SIZE, SIZE - 1, SIZE - 1),
            "round {round}: after {} slow failures",
            SIZE - 1
        );
        // A clean window for the next round (one more failure would open it).
        for _ in 0..SIZE {
            record(&b, Outcome::Success, false);
        }
    }
    for h in handles {
        h.join().expect("thread");
    }
    assert!(judged >= ROUNDS / 2, "only {judged} rounds stayed closed");
}

#[test]
fn concurrent_failures_open_the_breaker_exactly_once() {
    let opened = Arc::new(AtomicUsize::new(0));
    let count = opened.clone();
    let b = CircuitBreaker::builder("race")
        .config(count_config(50, 50))
        .clock(ManualClock::new())
        .listener(move |t: &Transition<'_>| {
            if t.to == State::Open {
                count.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build()
        .expect("valid");
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (b, barrier) = (b.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..1000 {
                    let _ = call(&b, Outcome::Failure);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        opened.load(Ordering::SeqCst),
        1,
        "one transition, however many saw it"
    );
    let admitted = 4000 - b.metrics().rejected_calls;
    assert!((50..4000).contains(&admitted), "{admitted} admitted");
}

// ---- operator overrides ----

#[test]
fn forced_open_rejects_everything_and_ignores_the_wait() {
    let (b, clock) = build(count_config(2, 2));
    assert!(b.force_open());
    assert!(!b.force_open(), "already forced open");
    let err = b.try_acquire().expect_err("forced open");
    assert_eq!(err.state(), State::ForcedOpen);
    clock.advance(3600 * SEC);
    assert!(b.try_acquire().is_err());
    assert_eq!(b.state(), State::ForcedOpen);
    b.reset();
    assert_eq!(b.state(), State::Closed);
    assert!(b.try_acquire().is_ok());
}

#[test]
fn disabled_admits_everything_and_records_nothing() {
    let (b, _) = build(count_config(2, 2));
    assert!(b.disable());
    calls(&b, Outcome::Failure, 50);
    assert_eq!(b.state(), State::Disabled);
    assert_eq!(b.metrics().calls, 0);
    b.reset();
    calls(&b, Outcome::Failure, 2);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn enabled_false_starts_disabled() {
    let cfg = BreakerConfig {
        enabled: false,
        ..count_config(2, 2)
    };
    let (b, _) = build(cfg);
    assert_eq!(b.state(), State::Disabled);
    calls(&b, Outcome::Failure, 10);
    assert_eq!(b.state(), State::Disabled);
}

#[test]
fn operators_can_open_and_half_open_by_hand() {
    let (b, _) = build(count_config(2, 2));
    assert!(b.open());
    assert!(b.try_acquire().is_err());
    assert!(b.half_open());
    calls(&b, Outcome::Success, 3);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn reset_clears_the_window_and_ignores_earlier_permits() {
    let (b, _) = build(count_config(4, 4));
    calls(&b, Outcome::Failure, 3);
    let late = b.try_acquire().expect("admitted");
    b.reset();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().calls, 0);
    late.record(Outcome::Failure);
    assert_eq!(b.metrics().calls, 0, "from before the reset");
}

#[test]
fn clones_share_one_state() {
    let (b, _) = build(count_config(2, 2));
    let other = b.clone();
    calls(&other, Outcome::Failure, 2);
    assert_eq!(b.state(), State::Open);
}

// ---- events ----

#[test]
fn listener_sees_every_transition_in_order() {
    use State::{Closed, Disabled, ForcedOpen, HalfOpen, Open};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder("orders")
        .config(count_config(2, 2))
        .clock(clock.clone())
        .listener(move |t: &Transition<'_>| {
            assert_eq!(t.name, "orders");
            log.lock().expect("lock").push((t.from, t.to));
        })
        .build()
        .expect("valid");
    calls(&b, Outcome::Failure, 2);
    clock.advance(5 * SEC);
    calls(&b, Outcome::Failure, 3);
    clock.advance(5 * SEC);
    calls(&b, Outcome::Success, 3);
    b.force_open();
    b.disable();
    b.reset();
    assert_eq!(
        *seen.lock().expect("lock"),
        [
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Open),
            (Open, HalfOpen),
            (HalfOpen, Closed),
            (Closed, ForcedOpen),
            (ForcedOpen, Disabled),
            (Disabled, Closed),
        ]
    );
}

#[test]
fn listener_may_call_back_into_the_breaker() {
    let slot: Arc<Mutex<Option<CircuitBreaker>>> = Arc::default();
    let me = slot.clone();
    let b = CircuitBreaker::builder("reentrant")
        .config(count_config(2, 2))
        .listener(move |t: &Transition<'_>| {
            if t.to == State::Open
                && let Some(b) = me.lock().expect("lock").as_ref()
            {
                b.force_open(); // an operator policy: never retry this one
            }
        })
        .build()
        .expect("valid");
    *slot.lock().expect("lock") = Some(b.clone());
    calls(&b, Outcome::Failure, 2);
    assert_eq!(b.state(), State::ForcedOpen);
    *slot.lock().expect("lock") = None;
}

#[test]
fn transitions_emit_an_info_event() {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let (b, _) = build(count_config(2, 2));
        calls(&b, Outcome::Failure, 2);
    });
    let out = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf8");
    assert!(out.contains("INFO"), "{out}");
    assert!(out.contains("circuit breaker state changed"), "{out}");
    assert!(
        out.contains("breaker=\"test\"") || out.contains("breaker=test"),
        "{out}"
    );
    assert!(
        out.contains("from=\"closed\"") || out.contains("from=closed"),
        "{out}"
    );
    assert!(
        out.contains("to=\"open\"") || out.contains("to=open"),
        "{out}"
    );
}

// ---- metrics ----

mod metrics_tests {
    use super::*;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    type Metric = (String, Vec<(String, String)>, DebugValue);

    fn values(recorder: &DebuggingRecorder) -> Vec<Metric> {
        recorder
            .snapshotter()
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let key = key.key();
                let labels = key
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect();
                (key.name().to_owned(), labels, value)
            })
            .collect()
    }

    fn find<'a>(all: &'a [Metric], name: &str, labels: &[(&str, &str)]) -> Option<&'a DebugValue> {
        all.iter()
            .find(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| v)
    }

    #[allow(clippy::float_cmp)]
    fn gauge(all: &[Metric], state: &str) -> u8 {
        match find(
            all,
            "chassis_breaker_state",
            &[("client", "test"), ("state", state)],
        ) {
            Some(DebugValue::Gauge(v)) if v.into_inner() == 1.0 => 1,
            Some(DebugValue::Gauge(v)) if v.into_inner() == 0.0 => 0,
            other => panic!("no gauge for {state}: {other:?}"),
        }
    }

    #[test]
    fn state_gauge_has_one_current_state() {
        let recorder = DebuggingRecorder::new();
        metrics::with_local_recorder(&recorder, || {
            let (b, clock) = build(count_config(2, 2));
            let all = values(&recorder);
            assert_eq!(gauge(&all, "closed"), 1);
            for s in ["open", "half_open", "forced_open", "disabled"] {
                assert_eq!(gauge(&all, s), 0, "{s}");
            }
            calls(&b, Outcome::Failure, 2);
            clock.advance(5 * SEC);
            let _trial = b.try_acquire().expect("trial");
            let all = values(&recorder);
            assert_eq!(gauge(&all, "half_open"), 1);
            assert_eq!(gauge(&all, "open"), 0);
            assert_eq!(gauge(&all, "closed"), 0);
        });
    }

    #[test]
    fn transitions_and_rejections_are_counted() {
        let recorder = DebuggingRecorder::new();
        metrics::with_local_recorder(&recorder, || {
            let (b, clock) = build(count_config(2, 2));
            calls(&b, Outcome::Failure, 2);
            let _ = b.try_acquire();
            let _ = b.try_acquire();
            clock.advance(5 * SEC);
            calls(&b, Outcome::Failure, 3);
            let all = values(&recorder);
            let counter = |labels: &[(&str, &str)], name: &str| match find(&all, name, labels) {
                Some(DebugValue::Counter(n)) => *n,
                other => panic!("{name} {labels:?}: {other:?}"),
            };
            let t = "chassis_breaker_transitions_total";
            assert_eq!(
                counter(&[("client", "test"), ("from", "closed"), ("to", "open")], t),
                1
            );
            assert_eq!(counter(&[("from", "open"), ("to", "half_open")], t), 1);
            assert_eq!(counter(&[("from", "half_open"), ("to", "open")], t), 1);
            assert_eq!(
                counter(&[("client", "test")], "chassis_breaker_rejected_total"),
                2
            );
        });
    }
}

// ---- config ----

#[test]
fn builds_from_toml_config() {
    let cfg: BreakerConfig = toml::from_str(
        r#"
        failure_rate_threshold = 25
        minimum_calls = 4
        window = { kind = "count", size = 4 }
        wait_in_open = "250ms"
        half_open_calls = 1
        "#,
    )
    .expect("valid");
    let (b, clock) = build(cfg);
    calls(&b, Outcome::Success, 3);
    calls(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), State::Open, "25 % >= 25 %");
    clock.advance(Duration::from_millis(250));
    calls(&b, Outcome::Success, 1);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn invalid_config_fails_to_build() {
    let cfg = BreakerConfig {
        failure_rate_threshold: 150.0,
        ..BreakerConfig::default()
    };
    let err = CircuitBreaker::new("bad", &cfg).expect_err("invalid");
    assert_eq!(
        err.to_string(),
        "failure_rate_threshold must be a percentage above 0 and at most 100, got 150"
    );
}

// ---- the tower service ----

mod service {
    use super::*;
    use http::{Request, Response, StatusCode};
    use tower::{BoxError, Layer, Service, ServiceExt, service_fn};

    async fn status(
        svc: &mut impl Service<Request<()>, Response = Response<()>, Error = BoxError>,
        code: u16,
    ) -> Result<StatusCode, BoxError> {
        let req = Request::builder()
            .header("x-status", code.to_string())
            .body(())
            .expect("request");
        svc.ready().await?.call(req).await.map(|r| r.status())
    }

    fn echo_status() -> impl Service<
        Request<()>,
        Response = Response<()>,
        Error = std::io::Error,
        Future = impl Future + Send,
    > + Clone {
        service_fn(|req: Request<()>| async move {
            let code: u16 = req.headers()["x-status"]
                .to_str()
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(200);
            if code == 0 {
                return Err(std::io::Error::other("connection refused"));
            }
            Ok(Response::builder().status(code).body(()).expect("response"))
        })
    }

    #[tokio::test]
    async fn default_classifier_counts_5xx_and_errors_but_not_4xx_or_501() {
        let (b, _) = build(count_config(100, 100));
        let mut svc = b.layer().layer(echo_status());
        for code in [200, 404, 429, 501] {
            assert_eq!(status(&mut svc, code).await.expect("ok").as_u16(), code);
        }
        assert_eq!(b.metrics().failed_calls, 0);
        status(&mut svc, 500)
            .await
            .expect("a 500 is still a response");
        status(&mut svc, 503).await.expect("response");
        let err = status(&mut svc, 0).await.expect_err("connect error");
        assert_eq!(err.to_string(), "connection refused");
        let m = b.metrics();
        assert_eq!((m.calls, m.failed_calls), (7, 3));
    }

    #[tokio::test]
    async fn open_breaker_rejects_without_calling_the_inner_service() {
        let (b, _) = build(count_config(2, 2));
        let (mock, mut handle) = tower_test::mock::pair::<Request<()>, Response<()>>();
        let mut svc = b.layer().layer(mock);
        handle.allow(2);
        for _ in 0..2 {
            let fut = svc.ready().await.expect("ready").call(Request::new(()));
            let (_, reply) = handle.next_request().await.expect("request");
            reply.send_response(Response::builder().status(502).body(()).expect("response"));
            assert_eq!(fut.await.expect("response").status(), 502);
        }
        assert_eq!(b.state(), State::Open);
        handle.allow(1);
        let err = svc
            .ready()
            .await
            .expect("ready: admission is at call time")
            .call(Request::new(()))
            .await
            .expect_err("rejected");
        let open = err.downcast_ref::<BreakerOpen>().expect("a BreakerOpen");
        assert_eq!(open.state(), State::Open);
        assert!(
            tokio::time::timeout(Duration::from_millis(1), handle.next_request())
                .await
                .is_err(),
            "the inner service saw no request"
        );
    }

    #[tokio::test]
    async fn cancelled_trial_call_gives_its_slot_back() {
        let (b, clock) = build(count_config(2, 2));
        let (mock, mut handle) = tower_test::mock::pair::<Request<()>, Response<()>>();
        let mut svc = b.layer().layer(mock);
        handle.allow(10);
        b.open();
        clock.advance(5 * SEC);
        let mut futs = Vec::new();
        for _ in 0..3 {
            futs.push(svc.ready().await.expect("ready").call(Request::new(())));
        }
        let rejected = svc.ready().await.expect("ready").call(Request::new(()));
        assert!(rejected.await.is_err(), "slots taken");
        drop(futs); // the callers gave up (e.g. a timeout above us)
        for _ in 0..3 {
            drop(handle.next_request().await.expect("the abandoned requests"));
        }
        let fut = svc.ready().await.expect("ready").call(Request::new(()));
        let (_, reply) = handle.next_request().await.expect("request");
        reply.send_response(Response::new(()));
        fut.await.expect("a trial call was admitted again");
    }

    #[tokio::test]
    async fn any_service_with_a_closure_classifier() {
        let (b, _) = build(count_config(3, 3));
        let inner = service_fn(|n: u32| async move { Ok::<_, std::io::Error>(n) });
        let mut svc = b
            .layer()
            .with_classifier(|r: Result<&u32, &std::io::Error>| match r {
                Ok(n) if *n % 2 == 1 => Outcome::Failure,
                Ok(_) => Outcome::Success,
                Err(_) => Outcome::Failure,
            })
            .layer(inner);
        assert_eq!(
            svc.ready().await.expect("ready").call(1).await.expect("ok"),
            1
        );
        assert_eq!(
            svc.ready().await.expect("ready").call(2).await.expect("ok"),
            2
        );
        assert_eq!(b.state(), State::Closed);
        svc.ready().await.expect("ready").call(3).await.expect("ok");
        assert_eq!(b.state(), State::Open, "2 odd of 3 in the window");
    }

    #[tokio::test]
    async fn error_classifier_for_non_http_services() {
        let (b, _) = build(count_config(2, 2));
        let inner = service_fn(|fail: bool| async move {
            if fail {
                Err(std::io::Error::other("boom"))
            } else {
                Ok(())
            }
        });
        let svc = b.layer().with_classifier(ErrorClassifier).layer(inner);
        svc.clone().oneshot(false).await.expect("ok");
        svc.clone().oneshot(true).await.expect_err("boom");
        svc.clone().oneshot(true).await.expect_err("boom");
        assert_eq!(b.state(), State::Open);
        let err = svc.oneshot(false).await.expect_err("rejected");
        assert!(err.is::<BreakerOpen>());
    }
}

/// An operator's forced-open or disabled state outlives configuration changes of `enabled`
/// until it is released; `enabled` alone still disables and re-enables a breaker.
#[test]
fn an_operators_state_outlives_enabled_changes_until_released() {
    let on = count_config(4, 2);
    let off = BreakerConfig {
        enabled: false,
        ..count_config(4, 2)
    };
    let (breaker, _clock) = build(on.clone());

    breaker.force_open();
    breaker.reconfigure(&off).unwrap();
    assert_eq!(breaker.state(), State::ForcedOpen, "disabling by config");
    breaker.reconfigure(&on).unwrap();
    assert_eq!(breaker.state(), State::ForcedOpen, "enabling by config");

    breaker.disable();
    breaker.reconfigure(&off).unwrap();
    breaker.reconfigure(&on).unwrap();
    assert_eq!(breaker.state(), State::Disabled, "the operator's, kept");

    // Released while the configuration says off: off, as configured.
    breaker.force_open();
    breaker.reconfigure(&off).unwrap();
    breaker.reset();
    assert_eq!(
        breaker.state(),
        State::Disabled,
        "released into the configuration"
    );
    breaker.reconfigure(&on).unwrap();
    assert_eq!(breaker.state(), State::Closed);

    breaker.reset();
    assert!(!breaker.overridden());
    breaker.reconfigure(&off).unwrap();
    assert_eq!(breaker.state(), State::Disabled, "by configuration");
    assert!(!breaker.overridden());
    breaker.reconfigure(&on).unwrap();
    assert_eq!(
        breaker.state(),
        State::Closed,
        "configuration brings it back"
    );
}
