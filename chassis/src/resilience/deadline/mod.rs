//! Request deadlines: read from the inbound `x-request-timeout-ms` header, visible to handlers
//! through [`Deadline::current`], propagated on outbound calls.
//!
//! ```
//! use std::time::Duration;
//! use chassis::resilience::deadline::{Deadline, DeadlineLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! let svc = ServiceBuilder::new()
//!     .layer(DeadlineLayer::new().max(Duration::from_secs(30)))
//!     .service(service_fn(|_req: http::Request<()>| async {
//!         // Inside the handler the caller's deadline is the current one.
//!         let left = Deadline::current().map(|d| d.remaining());
//!         Ok::<_, tower::BoxError>(http::Response::new(format!("{left:?}")))
//!     }));
//! let req = http::Request::builder().header("x-request-timeout-ms", "250").body(())?;
//! let res = svc.oneshot(req).await?;
//! assert!(res.body().starts_with("Some("));
//! # Ok(())
//! # }
//! ```
//!
//! # Why
//!
//! A caller that gives up after 300 ms gains nothing from a callee that keeps working for
//! two seconds, nor from the five calls that callee makes on its behalf. Passing the remaining
//! budget down the call tree lets every hop stop on time and fail fast once the budget is gone.
//!
//! # The header
//!
//! `x-request-timeout-ms: <n>`: the caller's **remaining** budget as a non-negative decimal
//! integer of milliseconds (`0` to `86400000`), relative to the moment the request is sent.
//! A relative value needs no synchronised clocks: the receiver turns it into a local
//! [`tokio::time::Instant`] on arrival (network time counts against the callee, which errs on
//! the safe side). Malformed values (empty, signed, not a number, more than a day) are ignored
//! with a `tracing::debug!` event, never an error; [`DeadlineLayer::max`] caps valid ones.
//!
//! Server side, [`DeadlineLayer`] stores the [`Deadline`] in the request extensions and makes
//! it the current deadline (a `tokio::task_local!`) while the handler runs. Client side,
//! [`PropagateDeadlineLayer`] takes the tightest of the current deadline and the one in the
//! request extensions, fails fast with [`DeadlineExceeded`] when it is spent, writes the
//! remaining milliseconds into the header and bounds the call by the remaining time.
//! Work moved to a `tokio::spawn`ed task leaves the task-local behind: carry it over with
//! [`Deadline::scope`], or put the [`Deadline`] into the outbound request's extensions.

mod error;
mod future;
mod header;
mod propagate;
mod server;

use std::{future::Future, time::Duration};

use tokio::{task::futures::TaskLocalFuture, time::Instant};

pub use error::DeadlineExceeded;
pub use future::ResponseFuture;
pub use header::{HEADER, MAX_HEADER_MS, parse_header};
pub use propagate::{PropagateDeadline, PropagateDeadlineLayer};
pub use server::{DeadlineLayer, SetDeadline};

tokio::task_local! {
    static CURRENT: Option<Deadline>;
}

/// The instant by which a request must be answered.
///
/// Stored in request extensions and, inside a [`DeadlineLayer`] or [`Deadline::scope`], as the
/// task's current deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline(Instant);

impl Deadline {
    /// A deadline at `instant`.
    pub const fn at(instant: Instant) -> Self {
        Self(instant)
    }

    /// A deadline `budget` from now (saturating far in the future instead of overflowing).
    pub fn after(budget: Duration) -> Self {
        let now = Instant::now();
        Self(
            now.checked_add(budget)
                .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365)),
        )
    }

    /// The instant of the deadline.
    pub const fn instant(self) -> Instant {
        self.0
    }

    /// Time left until the deadline, zero when it has passed.
    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// Whether the deadline has passed.
    pub fn is_expired(self) -> bool {
        self.0 <= Instant::now()
    }

    /// The current task's deadline, set by [`DeadlineLayer`] or [`Deadline::scope`].
    pub fn current() -> Option<Self> {
        CURRENT.try_with(|d| *d).ok().flatten()
    }

    /// The tightest deadline for an outbound request: the current one and the one in the
    /// request's extensions, whichever comes first.
    pub fn for_request<B>(req: &http::Request<B>) -> Option<Self> {
        earliest(Self::current(), req.extensions().get::<Self>().copied())
    }

    /// Runs `fut` with `deadline` as its current deadline, for example in a spawned task.
    ///
    /// A nested scope never loosens an outer deadline: the earlier of the two applies, and
    /// `None` keeps the outer one.
    pub fn scope<F: Future>(deadline: Option<Self>, fut: F) -> TaskLocalFuture<Option<Self>, F> {
        CURRENT.scope(earliest(deadline, Self::current()), fut)
    }

    /// Runs `fut` with exactly `deadline` as the current deadline (the server side).
    pub(crate) fn scope_exact<F: Future>(
        deadline: Option<Self>,
        fut: F,
    ) -> TaskLocalFuture<Option<Self>, F> {
        CURRENT.scope(deadline, fut)
    }

    /// Runs `f` synchronously with exactly `deadline` as the current deadline.
    pub(crate) fn sync_scope_exact<R>(deadline: Option<Self>, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(deadline, f)
    }
}

/// The earlier of two optional deadlines.
pub(crate) fn earliest(a: Option<Deadline>, b: Option<Deadline>) -> Option<Deadline> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
