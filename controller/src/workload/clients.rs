//! Ops that end without a reply, as a client sees them: at the op timeout (a tick finds the
//! op past its deadline) or when its node's process exits (the connection closes). Either
//! way the outcome is unknown: the op ends `info`, queued for the run loop to record.
//!
//! A client is bound to its node: an instance whose last op ended because its node crashed
//! waits for that node to be up again, and is retried there, so that a restarted proposer
//! takes up its old instances; if the node is not back within an op timeout, the instance
//! is retried anywhere.

use super::{Cause, Ended, Outcome, Workload};
use synod_node::paxos::{NodeId, OpId};

impl Workload {
    /// `node` is up again (connected and initialised): retry the instances its clients were
    /// waiting to retry there.
    pub fn handle_node_up(&mut self, now_us: u64, node: NodeId) {
        let (mine, others): (Vec<_>, Vec<_>) = self.waiting.drain(..).partition(|w| w.0 == node);
        self.waiting = others;
        for (_, instance, _) in mine {
            self.retry(now_us, instance, Some(node));
        }
    }

    /// `node`'s process exited: its open ops end `info` now (a client sees the connection
    /// close; whether the op took effect is unknown), in op order.
    pub fn handle_node_exited(&mut self, now_us: u64, node: NodeId) {
        let mut ops: Vec<OpId> = self.ops.iter().filter(|(_, o)| o.node == node).map(|(op, _)| *op).collect();
        ops.sort();
        self.end_without_reply(now_us, ops, Cause::Crashed);
    }

    /// The time is `now_us`: ops past their deadline end `info`, and clients whose node did
    /// not come back in time try elsewhere.
    pub fn handle_tick(&mut self, now_us: u64) {
        // Called every turn of the run loop, and most turns nothing is due: look before
        // building anything (a simulated run takes hundreds of thousands of turns a second).
        if self.ops.first_key_value().is_some_and(|(_, o)| o.deadline_us <= now_us) {
            // In op order (the map's, and their deadlines'): the retries' random draws then
            // follow from the seed.
            let due: Vec<OpId> =
                self.ops.iter().take_while(|(_, o)| o.deadline_us <= now_us).map(|(op, _)| *op).collect();
            self.end_without_reply(now_us, due, Cause::Timeout);
        }
        if self.waiting.iter().any(|w| w.2 <= now_us) {
            let (late, waiting): (Vec<_>, Vec<_>) = self.waiting.drain(..).partition(|w| w.2 <= now_us);
            self.waiting = waiting;
            for (_, instance, _) in late {
                self.retry(now_us, instance, None);
            }
        }
    }

    /// Ends each of `ops` (in the order given) for `cause`, and queues it to be recorded.
    fn end_without_reply(&mut self, now_us: u64, ops: Vec<OpId>, cause: Cause) {
        let outcome = Outcome::Info(cause.name().into());
        for op in ops {
            if let Some((instance, node)) = self.handle_reply(now_us, op, &outcome) {
                self.ended.push_back(Ended { op, instance, node, cause });
            }
        }
    }
}
