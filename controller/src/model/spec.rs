//! The bounded configuration a search explores: the cluster, the client proposals, and the
//! bounds that make the state space finite (docs/model.md, "Bounds").

use synod_node::paxos::{Bug, Config, NodeId, Tuning};

/// Nodes a packed state holds at most (`synod model --nodes`).
pub const MAX_NODES: usize = 9;

#[derive(Debug, Clone)]
pub struct Spec {
    /// Nodes 1..=nodes, each an acceptor and a learner.
    pub nodes: u32,
    /// Nodes 1..=proposers also play the proposer (and are the clients' targets).
    pub proposers: u32,
    /// Instances 1..=instances; each proposer is asked once to propose in each.
    pub instances: u64,
    /// Ballots one proposal may use (the core's `max_attempts`): it then gives up.
    pub max_ballots: u32,
    /// Crash-restarts in the whole run: a crash cuts the node's power, so it loses what it
    /// had not fsynced, then restarts from its records.
    pub crashes: u32,
    /// Re-sends of `decided` per learner (the core's `decided_max_retries`).
    pub decided_retries: u32,
    /// The net may deliver a message more than once: a delivered message stays in flight.
    /// Without, a delivery consumes one copy. Loss needs no transition of its own: a
    /// message that is never delivered is lost, and a state with it still in flight reaches
    /// every node state the state without it reaches (docs/model.md, "The net").
    pub duplicate: bool,
    /// A mutant every node runs, or `None` for the correct protocol.
    pub bug: Option<Bug>,
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            nodes: 3,
            proposers: 2,
            instances: 1,
            max_ballots: 2,
            crashes: 1,
            decided_retries: 0,
            duplicate: true,
            bug: None,
        }
    }
}

impl Spec {
    pub fn node_ids(&self) -> Vec<NodeId> {
        (1..=self.nodes).collect()
    }

    pub fn proposer_ids(&self) -> Vec<NodeId> {
        (1..=self.proposers.min(self.nodes)).collect()
    }

    /// Client proposals in the whole run: one per proposer and instance.
    pub fn proposals(&self) -> usize {
        self.proposer_ids().len() * self.instances as usize
    }

    /// A strict majority of the acceptors (every node): what makes a value chosen, whatever
    /// quorum a mutant counts.
    pub fn majority(&self) -> usize {
        self.nodes as usize / 2 + 1
    }

    /// The core's tunables under the model's bounds: no backoff (a retry comes at the next
    /// timeout, so no random draw), no catch-up ticks, no retirement of decisions.
    pub fn tuning(&self) -> Tuning {
        Tuning {
            backoff: false,
            max_attempts: self.max_ballots,
            decided_max_retries: self.decided_retries,
            catchup_ms: 0,
            bug: self.bug,
            ..Tuning::default()
        }
    }

    pub fn config(&self, node: NodeId) -> Config {
        let nodes = self.node_ids();
        Config {
            node,
            acceptors: nodes.clone(),
            proposers: self.proposer_ids(),
            learners: nodes,
            tuning: self.tuning(),
        }
    }

    /// The value of the `k`th ask (from 0) of proposer `node` in `instance`: unique, so
    /// validity can tell them apart.
    pub fn value(node: NodeId, instance: u64, k: u8) -> String {
        match k {
            0 => format!("i{instance}-n{node}"),
            k => format!("i{instance}-n{node}-{}", k + 1),
        }
    }

    /// The client op id of the `k`th ask of `node` in `instance`.
    pub fn op(&self, node: NodeId, instance: u64, k: u8) -> u64 {
        let asks = self.instances * u64::from(self.nodes);
        u64::from(k) * asks + (instance - 1) * u64::from(self.nodes) + u64::from(node)
    }
}
