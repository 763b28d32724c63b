//! [`Link`]: the handle that switches faults on the path from one service to another.

use std::fmt;
use std::sync::Arc;

use super::fault::{Fault, FaultCell};

/// The path from a caller service to a callee service in a
/// [`TestCluster`](super::TestCluster): every instance of the caller reaches every instance
/// of the callee through a TCP proxy of this link, and the link's [`Fault`] applies to all of
/// them at once. Cheap to clone; changes take effect on the next accept or chunk of bytes.
///
/// ```no_run
/// # async fn demo(cluster: &chassis::testing::TestCluster) -> Result<(), chassis::testing::ClusterError> {
/// use chassis::testing::Fault;
///
/// let link = cluster.link("gateway", "catalog")?;
/// link.set(Fault::Partition);
/// // ... the gateway's calls to catalog time out, its breaker opens ...
/// link.heal();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Link {
    caller: Arc<str>,
    callee: Arc<str>,
    fault: Arc<FaultCell>,
}

impl Link {
    pub(crate) fn new(caller: &str, callee: &str, fault: Arc<FaultCell>) -> Self {
        Self {
            caller: caller.into(),
            callee: callee.into(),
            fault,
        }
    }

    /// Puts `fault` on the link, replacing the one in force.
    pub fn set(&self, fault: Fault) {
        tracing::info!(caller = %self.caller, callee = %self.callee, ?fault, "test link: fault on");
        self.fault.set(Some(fault));
    }

    /// Removes the fault: traffic passes untouched again, and connections a partition held
    /// go on.
    pub fn heal(&self) {
        tracing::info!(caller = %self.caller, callee = %self.callee, "test link: healed");
        self.fault.set(None);
    }

    /// The fault in force, `None` when healthy.
    pub fn fault(&self) -> Option<Fault> {
        self.fault.get()
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("caller", &self.caller)
            .field("callee", &self.callee)
            .field("fault", &self.fault())
            .finish()
    }
}
