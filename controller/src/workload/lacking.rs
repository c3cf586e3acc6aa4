//! What the invoked instances still lack: learners that have not learned them, and a client
//! answered `ok`. The final phase chases both until none lacks anything (or time is up).
//!
//! Kept per instance from its first op until every learner learned it, with who proposed
//! it: the revisits (revisit.rs) read the same records to find a decided instance some
//! proposer has not learned.

use super::revisit::NodeSet;
use super::Workload;
use std::collections::BTreeSet;
use synod_node::paxos::{InstanceId, NodeId};

/// An instance invoked and not yet learned by every learner.
#[derive(Default)]
pub(super) struct Lacking {
    /// The learners that learned it.
    pub(super) learned: NodeSet,
    /// The proposers it was invoked at.
    pub(super) proposed_by: NodeSet,
    /// A learn or an `ok` was seen for it: it is decided, and was offered to the sample.
    pub(super) seen_decided: bool,
}

impl Workload {
    /// A learner learned `instance`.
    pub fn handle_learned(&mut self, instance: InstanceId, node: NodeId) {
        self.mark_decided(instance);
        self.seen_decided(instance);
        let Some(lacking) = self.unlearned.get_mut(&instance) else { return };
        lacking.learned |= super::bit(node);
        if lacking.learned & self.learners == self.learners {
            self.unlearned.remove(&instance);
            self.stats.learned_by_all += 1;
        }
    }

    /// Final phase: invokes again every instance that some learner has not learned or no
    /// client has had an `ok` for, and that has no op running.
    pub fn chase(&mut self, now_us: u64) {
        let lacking: BTreeSet<InstanceId> =
            self.unlearned.keys().chain(self.unanswered.iter()).copied().collect();
        let idle: Vec<InstanceId> = lacking.into_iter().filter(|i| !self.in_flight.contains_key(i)).collect();
        for instance in idle {
            let node = self.random_proposer();
            self.invoke(now_us, instance, node);
        }
    }
}
