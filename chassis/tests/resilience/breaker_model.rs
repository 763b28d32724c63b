//! Model-based test: random sequences of calls (fast, slow, failed, ignored, abandoned),
//! clock steps and operator actions, run against the breaker and against a small, obviously
//! correct reference model. Both must agree on the state and the window after every step.

use std::collections::VecDeque;
use std::time::Duration;

use chassis::resilience::breaker::{
    BreakerConfig, CircuitBreaker, ManualClock, Outcome, State, WindowConfig, WindowKind,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// Acquire, let `took_ms` pass, record.
    Call(Outcome, u64),
    /// Acquire and drop the permit without an outcome.
    Abandon,
    Advance(u64),
    ForceOpen,
    Disable,
    Reset,
}

#[derive(Debug, Clone)]
struct Cfg {
    time: bool,
    size: u32,
    minimum: u32,
    failure: u16,
    slow_rate: u16,
    slow_ms: Option<u64>,
    wait_ms: u64,
    trials: u32,
    auto: bool,
}

impl Cfg {
    fn config(&self) -> BreakerConfig {
        BreakerConfig {
            failure_rate_threshold: f32::from(self.failure),
            slow_call_rate_threshold: f32::from(self.slow_rate),
            slow_call_duration: self.slow_ms.map(Duration::from_millis),
            minimum_calls: self.minimum,
            window: WindowConfig {
                kind: if self.time {
                    WindowKind::Time
                } else {
                    WindowKind::Count
                },
                size: self.size,
            },
            wait_in_open: Duration::from_millis(self.wait_ms),
            half_open_calls: self.trials,
            // Beyond any run's clock: the half-open expiry has its own tests in breaker.rs.
            max_wait_in_half_open: Duration::from_secs(365 * 86_400),
            automatic_transition: self.auto,
            enabled: true,
        }
    }
}

/// The reference: plain data, recomputed from scratch, no cleverness.
struct Model {
    cfg: Cfg,
    now_ms: u64,
    state: State,
    /// (second, failed, slow) of each call in the closed window.
    window: VecDeque<(u64, bool, bool)>,
    open_until_ms: u64,
    permits: u32,
    trials: Vec<(bool, bool)>,
}

impl Model {
    fn new(cfg: Cfg) -> Self {
        Self {
            cfg,
            now_ms: 0,
            state: State::Closed,
            window: VecDeque::new(),
            open_until_ms: 0,
            permits: 0,
            trials: Vec::new(),
        }
    }

    fn enter(&mut self, to: State) {
        match to {
            State::Closed => self.window.clear(),
            State::Open => self.open_until_ms = self.now_ms + self.cfg.wait_ms,
            State::HalfOpen => {
                self.permits = self.cfg.trials;
                self.trials.clear();
            }
            _ => {}
        }
        self.state = to;
    }

    fn live_window(&self) -> Vec<(bool, bool)> {
        let now_sec = self.now_ms / 1000;
        self.window
            .iter()
            .filter(|(sec, ..)| !self.cfg.time || sec + u64::from(self.cfg.size) > now_sec)
            .map(|&(_, f, s)| (f, s))
            .collect()
    }

    fn exceeded(&self, calls: &[(bool, bool)], minimum: u64) -> bool {
        let n = calls.len() as u64;
        if n == 0 || n < minimum {
            return false;
        }
        let failed = calls.iter().filter(|c| c.0).count() as u64;
        let slow = calls.iter().filter(|c| c.1).count() as u64;
        failed * 100 >= u64::from(self.cfg.failure) * n
            || (self.cfg.slow_ms.is_some() && slow * 100 >= u64::from(self.cfg.slow_rate) * n)
    }

    /// Whether a call is admitted (taking a trial slot in half-open).
    fn acquire(&mut self) -> bool {
        if self.state == State::Open && self.now_ms >= self.open_until_ms {
            self.enter(State::HalfOpen);
        }
        match self.state {
            State::Closed | State::Disabled => true,
            State::HalfOpen if self.permits > 0 => {
                self.permits -= 1;
                true
            }
            _ => false,
        }
    }

    fn record(&mut self, outcome: Outcome, took_ms: u64) {
        if outcome == Outcome::Ignored {
            if self.state == State::HalfOpen {
                self.permits += 1;
            }
            return;
        }
        let failed = outcome == Outcome::Failure;
        let slow = self.cfg.slow_ms.is_some_and(|limit| took_ms > limit);
        match self.state {
            State::Closed => {
                let now_sec = self.now_ms / 1000;
                if self.cfg.time {
                    let size = u64::from(self.cfg.size);
                    self.window.retain(|(sec, ..)| sec + size > now_sec);
                } else if self.window.len() == self.cfg.size as usize {
                    self.window.pop_front();
                }
                self.window.push_back((now_sec, failed, slow));
                let minimum = if self.cfg.time {
                    self.cfg.minimum
                } else {
                    self.cfg.minimum.min(self.cfg.size)
                };
                if self.exceeded(&self.live_window(), u64::from(minimum)) {
                    self.enter(State::Open);
                }
            }
            State::HalfOpen => {
                self.trials.push((failed, slow));
                if self.trials.len() == self.cfg.trials as usize {
                    let to = if self.exceeded(&self.trials, u64::from(self.cfg.trials)) {
                        State::Open
                    } else {
                        State::Closed
                    };
                    self.enter(to);
                }
            }
            _ => {}
        }
    }

    fn observed_state(&mut self) -> State {
        if self.state == State::Open && self.cfg.auto && self.now_ms >= self.open_until_ms {
            self.enter(State::HalfOpen);
        }
        self.state
    }

    /// (calls, failed, slow) as `CircuitBreaker::metrics` reports them.
    fn counts(&self) -> (u64, u64, u64) {
        let calls = if self.state == State::HalfOpen {
            self.trials.clone()
        } else {
            self.live_window()
        };
        (
            calls.len() as u64,
            calls.iter().filter(|c| c.0).count() as u64,
            calls.iter().filter(|c| c.1).count() as u64,
        )
    }
}

fn cfg_strategy() -> impl Strategy<Value = Cfg> {
    (
        any::<bool>(),
        1u32..8,
        1u32..10,
        prop_oneof![Just(50u16), Just(100), 1u16..=100],
        prop_oneof![Just(100u16), 1u16..=100],
        prop_oneof![Just(None), (100u64..2000).prop_map(Some)],
        1000u64..6000,
        1u32..5,
        any::<bool>(),
    )
        .prop_map(
            |(time, size, minimum, failure, slow_rate, slow_ms, wait_ms, trials, auto)| Cfg {
                time,
                size,
                minimum,
                failure,
                slow_rate,
                slow_ms,
                wait_ms,
                trials,
                auto,
            },
        )
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let outcome = prop_oneof![
        4 => Just(Outcome::Success),
        4 => Just(Outcome::Failure),
        1 => Just(Outcome::Ignored),
    ];
    let took = prop_oneof![3 => Just(0u64), 2 => 0u64..3000];
    prop_oneof![
        30 => (outcome, took).prop_map(|(o, t)| Op::Call(o, t)),
        3 => Just(Op::Abandon),
        8 => prop_oneof![0u64..1500, 1000u64..8000].prop_map(Op::Advance),
        1 => Just(Op::ForceOpen),
        1 => Just(Op::Disable),
        2 => Just(Op::Reset),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn breaker_agrees_with_the_reference_model(
        cfg in cfg_strategy(),
        ops in prop::collection::vec(op_strategy(), 1..120),
    ) {
        let clock = ManualClock::new();
        let breaker = CircuitBreaker::builder("model")
            .config(cfg.config())
            .clock(clock.clone())
            .build()
            .expect("valid config");
        let mut model = Model::new(cfg);
        for (step, op) in ops.iter().enumerate() {
            match *op {
                Op::Call(outcome, took_ms) => {
                    let permit = breaker.try_acquire();
                    prop_assert_eq!(permit.is_ok(), model.acquire(), "admission at step {} {:?}", step, op);
                    clock.advance(Duration::from_millis(took_ms));
                    model.now_ms += took_ms;
                    if let Ok(permit) = permit {
                        permit.record(outcome);
                        model.record(outcome, took_ms);
                    }
                }
                Op::Abandon => {
                    let permit = breaker.try_acquire();
                    prop_assert_eq!(permit.is_ok(), model.acquire(), "admission at step {}", step);
                    if permit.is_ok() {
                        model.record(Outcome::Ignored, 0);
                    }
                }
                Op::Advance(ms) => {
                    clock.advance(Duration::from_millis(ms));
                    model.now_ms += ms;
                }
                Op::ForceOpen => {
                    if model.state != State::ForcedOpen {
                        model.enter(State::ForcedOpen);
                    }
                    breaker.force_open();
                }
                Op::Disable => {
                    if model.state != State::Disabled {
                        model.enter(State::Disabled);
                    }
                    breaker.disable();
                }
                Op::Reset => {
                    model.enter(State::Closed);
                    breaker.reset();
                }
            }
            prop_assert_eq!(breaker.state(), model.observed_state(), "state after step {} {:?}", step, op);
            let m = breaker.metrics();
            prop_assert_eq!(
                (m.calls, m.failed_calls, m.slow_calls),
                model.counts(),
                "window after step {} {:?}", step, op
            );
        }
    }
}
