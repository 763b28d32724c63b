//! [`Fault`]: what a link does to the traffic between a caller and a callee, and the
//! lock-free cell the proxy reads it from.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// A fault on a link (caller -> callee), applied by the link's TCP proxy to new connections
/// and, at their next chunk of bytes, to open ones: the caller's client, breaker and retries
/// see it as they would see the network or the callee fail in production.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// Every chunk of bytes from callee to caller is held back this long: a call takes that
    /// much longer (more when its answer comes in several chunks).
    Latency(Duration),
    /// This share (0.0 to 1.0) of requests is answered `503 Service Unavailable` by the
    /// proxy itself, which then closes the connection; the callee never sees them.
    /// HTTP/1.1 callers only (the chassis client's default).
    ErrorResponses(f64),
    /// New connections are accepted and closed at once (the caller reads end of file);
    /// open ones are closed at their next chunk.
    Drop,
    /// New connections are accepted and reset (an RST, through `SO_LINGER` 0); open ones
    /// are reset at their next chunk.
    Reset,
    /// Nothing passes either way, as when a network splits: connections are accepted (the
    /// kernel completes the handshake) but no byte is forwarded until the link heals, so the
    /// caller's timeouts fire. Bytes held meanwhile are delivered after healing, as TCP
    /// retransmission would.
    Partition,
    /// Nothing listens: new connections are refused (`ECONNREFUSED`, as from a host whose
    /// process is gone) and open ones are reset at their next chunk. The link's proxies
    /// close their listening sockets and listen again on the same ports when it heals.
    Refuse,
    /// Bytes pass at most at this rate, in each direction (a slow or congested link).
    SlowLink {
        /// The rate, at least 1.
        bytes_per_second: u64,
    },
}

/// Kinds, in the top byte of the packed form; the parameter is in the low 56 bits.
const NONE: u64 = 0;
const LATENCY: u64 = 1;
const ERRORS: u64 = 2;
const DROP: u64 = 3;
const RESET: u64 = 4;
const PARTITION: u64 = 5;
const SLOW: u64 = 6;
const REFUSE: u64 = 7;

const PARAM_BITS: u32 = 56;
const PARAM_MASK: u64 = (1 << PARAM_BITS) - 1;
/// `ErrorResponses` rates are kept in millionths.
const PER_MILLION: f64 = 1_000_000.0;

impl Fault {
    /// The fault as one word: kind in the top byte, its parameter (nanoseconds, millionths,
    /// bytes per second; saturated at 2^56 - 1) below.
    fn pack(self) -> u64 {
        let (kind, param) = match self {
            Self::Latency(delay) => (LATENCY, u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX)),
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped
            Self::ErrorResponses(rate) => {
                (ERRORS, (rate.clamp(0.0, 1.0) * PER_MILLION).round() as u64)
            }
            Self::Drop => (DROP, 0),
            Self::Reset => (RESET, 0),
            Self::Partition => (PARTITION, 0),
            Self::Refuse => (REFUSE, 0),
            Self::SlowLink { bytes_per_second } => (SLOW, bytes_per_second.max(1)),
        };
        (kind << PARAM_BITS) | param.min(PARAM_MASK)
    }

    fn unpack(word: u64) -> Option<Self> {
        let param = word & PARAM_MASK;
        Some(match word >> PARAM_BITS {
            LATENCY => Self::Latency(Duration::from_nanos(param)),
            #[allow(clippy::cast_precision_loss)] // at most a million
            ERRORS => Self::ErrorResponses(param as f64 / PER_MILLION),
            DROP => Self::Drop,
            RESET => Self::Reset,
            PARTITION => Self::Partition,
            REFUSE => Self::Refuse,
            SLOW => Self::SlowLink {
                bytes_per_second: param,
            },
            _ => return None,
        })
    }
}

/// The fault of one link: one atomic word the proxy reads on every accept and every chunk,
/// and a wake-up for connections held by a partition.
#[derive(Debug, Default)]
pub(crate) struct FaultCell {
    word: AtomicU64,
    changed: Notify,
}

impl FaultCell {
    /// The fault in force, `None` for a healthy link.
    pub(crate) fn get(&self) -> Option<Fault> {
        Fault::unpack(self.word.load(Ordering::Acquire))
    }

    /// Sets (or, with `None`, clears) the fault and wakes the connections waiting on one.
    pub(crate) fn set(&self, fault: Option<Fault>) {
        self.word
            .store(fault.map_or(NONE, Fault::pack), Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Waits until the link is no longer partitioned.
    pub(crate) async fn until_not_partitioned(&self) {
        self.until(|fault| fault != Some(Fault::Partition)).await;
    }

    /// Waits until the fault in force satisfies `done`; at once when it does now.
    pub(crate) async fn until(&self, done: impl Fn(Option<Fault>) -> bool) {
        loop {
            let changed = self.changed.notified();
            if done(self.get()) {
                return;
            }
            changed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_survives_the_packed_form() {
        for fault in [
            Fault::Latency(Duration::from_millis(250)),
            Fault::ErrorResponses(0.25),
            Fault::ErrorResponses(1.0),
            Fault::Drop,
            Fault::Reset,
            Fault::Partition,
            Fault::Refuse,
            Fault::SlowLink {
                bytes_per_second: 4096,
            },
        ] {
            let cell = FaultCell::default();
            cell.set(Some(fault));
            assert_eq!(cell.get(), Some(fault));
            cell.set(None);
            assert_eq!(cell.get(), None);
        }
    }

    #[test]
    fn out_of_range_parameters_are_clamped() {
        let cell = FaultCell::default();
        cell.set(Some(Fault::ErrorResponses(7.0)));
        assert_eq!(cell.get(), Some(Fault::ErrorResponses(1.0)));
        cell.set(Some(Fault::ErrorResponses(f64::NAN)));
        assert!(matches!(cell.get(), Some(Fault::ErrorResponses(_))));
        cell.set(Some(Fault::SlowLink {
            bytes_per_second: 0,
        }));
        assert_eq!(
            cell.get(),
            Some(Fault::SlowLink {
                bytes_per_second: 1
            })
        );
        cell.set(Some(Fault::Latency(Duration::MAX)));
        assert!(matches!(cell.get(), Some(Fault::Latency(d)) if d > Duration::from_secs(3600)));
    }

    #[tokio::test]
    async fn healing_wakes_a_held_connection() {
        let cell = std::sync::Arc::new(FaultCell::default());
        cell.set(Some(Fault::Partition));
        let waiter = tokio::spawn({
            let cell = cell.clone();
            async move { cell.until_not_partitioned().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        cell.set(None);
        waiter.await.unwrap();
    }
}
