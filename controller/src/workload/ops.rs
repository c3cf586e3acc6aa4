//! The bookkeeping of ops and instances: invoking an op, a reply closing it, and what an
//! instance whose ops all ended gets next (a new op, or retirement).
//!
//! Apart from the rest because every path through the workload ends here: a fill, a chase,
//! a retry after a crash or a timeout all invoke through [`Workload::invoke`], and every op
//! ends through [`Workload::handle_reply`] (a timeout or a crash is a reply the workload
//! gives itself). Keeping the counts (`undecided`, open ops, `revisits_open`) in one place
//! keeps them right.

use super::revisit::bit;
use super::{Invoke, Outcome, Workload, CLOSED_OPS_KEPT, MAX_REINVOKES};
use std::collections::{HashMap, VecDeque};
use synod_node::paxos::{round_zero_owner, InstanceId, NodeId, OpId};

/// An open op.
pub(super) struct Op {
    pub(super) instance: InstanceId,
    pub(super) node: NodeId,
    pub(super) deadline_us: u64,
    pub(super) revisit: bool,
}

/// An instance with ops running.
#[derive(Default)]
pub(super) struct Instance {
    open_ops: u32,
    pub(super) decided: bool,
    reinvokes: u32,
}

/// The ops that ended most recently, oldest first out: op -> (instance, node).
#[derive(Default)]
pub(super) struct ClosedOps {
    pub(super) order: VecDeque<OpId>,
    pub(super) ops: HashMap<OpId, (InstanceId, NodeId)>,
}

impl ClosedOps {
    pub(super) fn insert(&mut self, op: OpId, instance: InstanceId, node: NodeId) {
        if self.ops.insert(op, (instance, node)).is_none() {
            self.order.push_back(op);
        }
        while self.order.len() > CLOSED_OPS_KEPT {
            if let Some(old) = self.order.pop_front() {
                self.ops.remove(&old);
            }
        }
    }
}

impl Workload {
    /// The owner of the instance's round 0 (docs/protocol.md), then `k - 1` other
    /// proposers at random: the owner's one-phase ballot races the others' prepares.
    pub(super) fn pick_proposers(&mut self, instance: InstanceId, k: usize) -> Vec<NodeId> {
        let mut pool = self.cfg.proposers.clone();
        let owner = round_zero_owner(&pool, instance).expect("a run has proposers");
        pool.retain(|&n| n != owner);
        let mut chosen = Vec::with_capacity(k);
        chosen.push(owner);
        for _ in 1..k {
            let i = self.rng.below(pool.len() as u64) as usize;
            chosen.push(pool.swap_remove(i));
        }
        chosen
    }

    pub(super) fn random_proposer(&mut self) -> NodeId {
        let proposers = &self.cfg.proposers;
        proposers[self.rng.below(proposers.len() as u64) as usize]
    }

    /// Opens an op proposing a fresh value for `instance` at `node`, and queues it to send.
    pub(super) fn invoke(&mut self, now_us: u64, instance: InstanceId, node: NodeId) {
        self.next_op += 1;
        let op = self.next_op;
        let deadline_us = now_us + self.cfg.op_timeout_us;
        // Ops' deadlines follow their ids, which the tick relies on to look at the first only.
        assert!(
            self.ops.last_key_value().is_none_or(|(_, last)| last.deadline_us <= deadline_us),
            "op {op}'s deadline is before an older op's"
        );
        self.ops.insert(op, Op { instance, node, deadline_us, revisit: false });
        if let Some(lacking) = self.unlearned.get_mut(&instance) {
            lacking.proposed_by |= bit(node);
        }
        self.sample.proposed(instance, node);
        if !self.in_flight.contains_key(&instance) {
            // Decided already if some learner has it or a client was answered (a final-phase
            // chase).
            let learned = self.unlearned.get(&instance).is_none_or(|l| l.learned != 0);
            let decided = learned || !self.unanswered.contains(&instance);
            self.undecided += usize::from(!decided);
            self.in_flight.insert(instance, Instance { decided, ..Instance::default() });
        }
        self.in_flight.get_mut(&instance).expect("just inserted").open_ops += 1;
        self.stats.invoked += 1;
        self.invokes.push_back(Invoke {
            op,
            node,
            instance,
            value: format!("i{instance}-op{op}"),
            revisit: false,
        });
        assert!(self.invokes.len() <= self.ops.len(), "an op queued to send is open");
    }

    /// The node answered op `op` (or the workload ended it: a timeout, a crash). Returns the
    /// op's instance and node if the op was open.
    pub fn handle_reply(&mut self, now_us: u64, op: OpId, outcome: &Outcome) -> Option<(InstanceId, NodeId)> {
        let Op { instance, node, revisit, .. } = self.ops.remove(&op)?;
        self.closed.insert(op, instance, node);
        if revisit {
            self.revisits_open -= 1;
        }
        match outcome {
            Outcome::Ok(_) => self.stats.ok += 1,
            Outcome::Fail(_) => self.stats.fail += 1,
            Outcome::Info(_) => self.stats.info += 1,
        }
        if matches!(outcome, Outcome::Ok(_)) {
            self.answered(instance);
        }
        let inst = self.in_flight.get_mut(&instance).expect("an open op's instance is in flight");
        inst.open_ops -= 1;
        if inst.open_ops == 0 {
            if matches!(outcome, Outcome::Info(e) if e == "crashed") && self.undecided_and_unlearned(instance)
            {
                // The client waits for its node to come back, then tries again there.
                self.waiting.push((node, instance, now_us + self.cfg.op_timeout_us));
            } else {
                self.retry(now_us, instance, None);
            }
        }
        Some((instance, node))
    }

    /// A reply to op `op`, which is not open (it ended already, or was never invoked): for
    /// an `ok`, `instance` (from the reply) is answered and decided. Returns the op's
    /// instance and node if the op ended recently enough to be remembered.
    pub fn handle_late(&mut self, op: OpId, ok_instance: Option<InstanceId>) -> Option<(InstanceId, NodeId)> {
        self.stats.late += 1;
        if let Some(instance) = ok_instance {
            self.answered(instance);
        }
        self.closed.ops.get(&op).copied()
    }

    /// A client was answered `ok` for `instance`: it is decided.
    fn answered(&mut self, instance: InstanceId) {
        self.mark_decided(instance);
        self.seen_decided(instance);
        self.unanswered.remove(&instance);
    }

    /// The instance op `op` was invoked on, if it is open or ended recently enough to be
    /// remembered: what a reply to it answers, whatever instance the reply names.
    pub fn op_instance(&self, op: OpId) -> Option<InstanceId> {
        self.ops.get(&op).map(|o| o.instance).or_else(|| self.closed.ops.get(&op).map(|c| c.0))
    }

    /// Nobody knows a decision for `instance`.
    pub(super) fn undecided_and_unlearned(&self, instance: InstanceId) -> bool {
        let decided = self.in_flight.get(&instance).is_none_or(|i| i.decided);
        !decided && self.unlearned.get(&instance).is_some_and(|l| l.learned == 0)
    }

    /// An instance whose ops all ended: invoked again (on `node`, or a random proposer) if it
    /// has retries left and either nobody knows a decision or no client was answered `ok` for
    /// it yet; retired otherwise. A learned but unanswered instance is invoked again at once
    /// (its proposer answers with the decided value), not left to the final phase: else the
    /// checker holds its record all run long and the final phase chases thousands at once.
    /// Being decided, it holds no concurrency slot.
    /// An instance with an op still open (a revisit invoked while its client waited for a
    /// crashed node, say) is left alone: that op's end decides, as for any instance.
    pub(super) fn retry(&mut self, now_us: u64, instance: InstanceId, node: Option<NodeId>) {
        if self.in_flight.get(&instance).is_some_and(|i| i.open_ops > 0) {
            return;
        }
        let retries_left = self.in_flight.get(&instance).is_some_and(|i| i.reinvokes < MAX_REINVOKES);
        let lacking = self.undecided_and_unlearned(instance) || self.unanswered.contains(&instance);
        if lacking && retries_left {
            self.in_flight.get_mut(&instance).expect("checked").reinvokes += 1;
            let node = node.unwrap_or_else(|| self.random_proposer());
            self.invoke(now_us, instance, node);
        } else if let Some(inst) = self.in_flight.remove(&instance) {
            if !inst.decided {
                self.undecided -= 1;
            }
        }
    }

    pub(super) fn mark_decided(&mut self, instance: InstanceId) {
        if let Some(inst) = self.in_flight.get_mut(&instance) {
            if !inst.decided {
                inst.decided = true;
                self.undecided -= 1;
            }
        }
    }
}
