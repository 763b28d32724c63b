//! The breaker's states and their packing into one atomic word.

use std::fmt;

/// The state of a circuit breaker.
///
/// `Closed`, `Open` and `HalfOpen` are driven by call outcomes; `ForcedOpen` and `Disabled` are
/// operator overrides that stay until an operator changes the state again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Calls pass and their outcomes are recorded in the sliding window.
    Closed,
    /// Calls are rejected until the wait duration has passed.
    Open,
    /// A limited number of trial calls pass; their outcomes decide between closed and open.
    HalfOpen,
    /// Calls are rejected until an operator changes the state (an override).
    ForcedOpen,
    /// Calls pass and nothing is recorded (an override).
    Disabled,
}

impl State {
    /// Every state, in the order of their codes.
    pub const ALL: [State; 5] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::Disabled,
    ];

    /// The label used in logs and metrics: `closed`, `open`, `half_open`, `forced_open`,
    /// `disabled`.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::ForcedOpen => "forced_open",
            State::Disabled => "disabled",
        }
    }

    /// Whether calls are admitted (possibly limited, in half-open).
    pub const fn admits_calls(self) -> bool {
        matches!(self, State::Closed | State::HalfOpen | State::Disabled)
    }

    pub(crate) const fn code(self) -> u64 {
        self.index() as u64
    }

    pub(crate) const fn index(self) -> usize {
        match self {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
            State::ForcedOpen => 3,
            State::Disabled => 4,
        }
    }

    const fn from_code(code: u64) -> State {
        match code {
            0 => State::Closed,
            1 => State::Open,
            2 => State::HalfOpen,
            3 => State::ForcedOpen,
            _ => State::Disabled,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state together with the number of transitions so far (its epoch).
///
/// Each permit remembers the word it was admitted under; an outcome arriving after the state
/// changed belongs to an older epoch and is ignored, so a slow call admitted while closed cannot
/// decide a later half-open trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

impl Word {
    const STATE_BITS: u32 = 3;
    const STATE_MASK: u64 = (1 << Self::STATE_BITS) - 1;

    pub(crate) const fn initial(state: State) -> Word {
        Word(state.code())
    }

    pub(crate) const fn state(self) -> State {
        State::from_code(self.0 & Self::STATE_MASK)
    }

    /// The word after a transition to `to`.
    pub(crate) const fn next(self, to: State) -> Word {
        Word(((self.0 >> Self::STATE_BITS).wrapping_add(1) << Self::STATE_BITS) | to.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_packs_state_and_epoch() {
        let w = Word::initial(State::Closed);
        assert_eq!(w.state(), State::Closed);
        let w2 = w.next(State::Open);
        assert_eq!(w2.state(), State::Open);
        assert_ne!(w2, w);
        let w3 = w2.next(State::Closed);
        assert_eq!(w3.state(), State::Closed);
        assert_ne!(w3, w, "same state, new epoch");
    }

    #[test]
    fn codes_round_trip() {
        for s in State::ALL {
            assert_eq!(State::from_code(s.code()), s);
            assert_eq!(State::ALL[s.index()], s);
        }
        assert_eq!(State::HalfOpen.to_string(), "half_open");
    }
}
