//! Effects the core asks its runtime to perform, in order.
//!
//! The one ordering rule (raft-rs's `Ready`): every `Persist` must be durable before any
//! `Send`, `Learned` or `ProposeDone` that comes after it in the output queue leaves the
//! node. A runtime may batch all persists of one loop turn under one fdatasync (group
//! commit) and release the turn's messages after it. A `PersistLazy` holds nothing back.
//!
//! Two more effects serve the archive of old decisions (paxos/decisions.rs): `Archive` hands
//! the runtime a decision the core has just forgotten, and `Lookup` asks for one back, to be
//! answered with `Node::handle_lookup`. The runtime may perform both at once (the value may
//! still be in memory) or later; nothing else waits for them.

use super::ballot::{InstanceId, NodeId};
use super::msg::Msg;
use super::record::Record;
use std::collections::VecDeque;

/// A client operation id: the `msg_id` of the controller's `propose`.
pub type OpId = u64;

/// Why a proposal ended without a decision. `code()` is the wire error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposeError {
    /// This node does not play the proposer role.
    NotProposer,
    /// Too many open proposals on this node (`Tuning::max_proposals`).
    Busy,
    /// The proposal used `Tuning::max_attempts` ballots without a decision.
    GaveUp,
}

impl ProposeError {
    pub fn code(self) -> &'static str {
        match self {
            ProposeError::NotProposer => "not_proposer",
            ProposeError::Busy => "busy",
            ProposeError::GaveUp => "gave_up",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            ProposeError::NotProposer => "this node is not a proposer",
            ProposeError::Busy => "too many open proposals on this node",
            ProposeError::GaveUp => "no decision after the maximum number of ballots",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Make this record durable before anything that follows it is released.
    Persist(Record),
    /// Append this record to the log when convenient: nothing waits for it (the built-in
    /// runtime writes it with its next batch, or on its own after 50 ms). A crash may lose
    /// it, so it is only ever a cache the node can rebuild from its peers (a learned
    /// decision), never a promise or a vote.
    PersistLazy(Record),
    /// Send a Paxos message to a node (possibly this node itself: every message goes
    /// through the network, so the trace is complete).
    Send { to: NodeId, msg: Msg },
    /// This node's learner learned `value` for `instance` (tell the controller).
    Learned { instance: InstanceId, value: String },
    /// The client operation `op` ended: `Ok(decided value)` or an error.
    ProposeDone { op: OpId, instance: InstanceId, result: Result<String, ProposeError> },
    /// Keep this decision in the archive: the core has retired it and will ask for it with
    /// `Lookup`. It must be durable before a log written from `Node::snapshot` replaces the
    /// records that hold it (the runtime flushes the archive first).
    Archive { instance: InstanceId, value: String },
    /// Fetch the archived decision of `instance` and hand it to `Node::handle_lookup`. The
    /// archive must have it: the core asks only for instances it retired.
    Lookup { instance: InstanceId },
}

/// The queue the roles push their effects into.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    queue: VecDeque<Output>,
}

impl Effects {
    pub fn persist(&mut self, record: Record) {
        self.queue.push_back(Output::Persist(record));
    }

    pub fn persist_lazy(&mut self, record: Record) {
        self.queue.push_back(Output::PersistLazy(record));
    }

    pub fn send(&mut self, to: NodeId, msg: Msg) {
        self.queue.push_back(Output::Send { to, msg });
    }

    /// Send `msg` to every node of `to`.
    pub fn broadcast(&mut self, to: &[NodeId], msg: &Msg) {
        for &node in to {
            self.send(node, msg.clone());
        }
    }

    pub fn push(&mut self, output: Output) {
        self.queue.push_back(output);
    }

    pub fn pop(&mut self) -> Option<Output> {
        self.queue.pop_front()
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}
