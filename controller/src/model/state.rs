//! One state of the modelled cluster: every node's core with its clock and durable records,
//! the messages in flight, the client proposals made, the crashes spent, and the ghost
//! history the invariants read.
//!
//! The net is a set, not a multiset, when the model may duplicate: a second copy of a
//! message in flight adds no behaviour, since delivering a message may keep it in flight
//! (so it can be delivered any number of times) and losing it removes it. Without
//! duplication, copies count, and the net keeps them all.

use super::invariants::Ghost;
use super::proposals::Proposals;
use super::spec::Spec;
use std::hash::{Hash, Hasher};
use synod_node::paxos::{Msg, Node, NodeId, Record};

/// A message in flight.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Envelope {
    pub to: NodeId,
    pub from: NodeId,
    pub msg: Msg,
}

#[derive(Debug, Clone)]
pub struct NodeState {
    pub core: Node,
    /// The node's clock: moved only by its timeouts (a message arrives at the current time).
    pub clock_us: u64,
    /// What the node made durable (`Persist`, and the lazy records a later batch took).
    pub records: Vec<Record>,
    /// What it wrote and did not fsync: only a node with the skip-fsync mutant has any; a
    /// crash (a power cut) loses them.
    pub unsynced: Vec<Record>,
    /// Lazy records no batch has written yet: a crash loses them.
    pub lazy: Vec<Record>,
}

#[derive(Debug, Clone)]
pub struct State {
    pub nodes: Vec<NodeState>,
    /// Sorted; a set when the spec duplicates (see the module docs).
    pub net: Vec<Envelope>,
    /// The client proposals made.
    pub proposed: Proposals,
    pub crashes: u32,
    pub ghost: Ghost,
}

impl State {
    pub fn initial(spec: &Spec) -> State {
        let nodes = spec
            .node_ids()
            .into_iter()
            .map(|n| NodeState {
                core: Node::new(spec.config(n), &[]),
                clock_us: 0,
                records: Vec::new(),
                unsynced: Vec::new(),
                lazy: Vec::new(),
            })
            .collect();
        State { nodes, net: Vec::new(), proposed: Proposals::default(), crashes: 0, ghost: Ghost::default() }
    }

    /// Puts a message in flight.
    pub fn send(&mut self, spec: &Spec, env: Envelope) {
        match self.net.binary_search(&env) {
            Ok(_) if spec.duplicate => {}
            Ok(at) | Err(at) => self.net.insert(at, env),
        }
    }

    /// The state as a 64-bit hash: equal for states that behave the same. Records are left
    /// out once no crash is left to read them.
    pub fn fingerprint(&self, spec: &Spec) -> u64 {
        // SipHash with fixed keys (`DefaultHasher::new`): the same in every run, and well
        // mixed on structured input.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let crash_left = self.crashes < spec.crashes;
        for n in &self.nodes {
            n.core.fingerprint(n.clock_us, &mut h);
            if crash_left {
                n.records.hash(&mut h);
                n.unsynced.hash(&mut h);
                n.lazy.hash(&mut h);
            }
        }
        self.net.hash(&mut h);
        self.proposed.hash(&mut h);
        self.crashes.hash(&mut h);
        self.ghost.hash(&mut h);
        h.finish()
    }
}
