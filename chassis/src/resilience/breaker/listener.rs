//! Reacting to state changes: the listener strategy.

use super::State;

/// A state change of a breaker, given to [`StateListener`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transition<'a> {
    /// The breaker's name (the client it protects).
    pub name: &'a str,
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
}

/// Called after every state change, outside the breaker's lock (so it may read the breaker or
/// even change its state), on the thread whose call caused the change. Keep it quick.
///
/// Implemented for `()` (nothing) and for closures `Fn(&Transition<'_>)`:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use chassis::resilience::breaker::{CircuitBreaker, State, Transition};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// let breaker = CircuitBreaker::builder("catalog")
///     .listener(move |t: &Transition<'_>| log.lock().unwrap().push((t.from, t.to)))
///     .build()
///     .unwrap();
/// breaker.force_open();
/// assert_eq!(*seen.lock().unwrap(), [(State::Closed, State::ForcedOpen)]);
/// ```
pub trait StateListener: Send + Sync + 'static {
    /// One state change.
    fn on_transition(&self, transition: &Transition<'_>);
}

impl StateListener for () {
    fn on_transition(&self, _: &Transition<'_>) {}
}

impl<F> StateListener for F
where
    F: Fn(&Transition<'_>) + Send + Sync + 'static,
{
    fn on_transition(&self, transition: &Transition<'_>) {
        self(transition);
    }
}
