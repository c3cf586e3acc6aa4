//! Work that waits for a retired decision's value to come back from the archive.
//!
//! A retired instance (paxos/decisions.rs) has no value in memory. When a peer's `prepare`,
//! `accept` or `catchup`, a client's `propose`, or a `decided` to be checked arrives for one,
//! the core parks it here and emits one `Output::Lookup` per instance; `Node::handle_lookup`
//! then answers every waiter. At most [`MAX_LOOKUP_WAITERS`] wait: beyond that a peer's
//! request is dropped (as the network may drop it; the peer retries) and a client's is
//! refused with `busy`.

use super::ballot::{InstanceId, NodeId};
use super::output::{Effects, OpId, Output};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

/// Requests waiting for lookups, at most.
pub const MAX_LOOKUP_WAITERS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Waiter {
    /// A peer asked (`prepare`, `accept`, `catchup`): send it `decided`.
    Peer(NodeId),
    /// A client proposed: answer its op with the decision.
    Client(OpId),
    /// A peer said `decided` with this value: report it if it conflicts.
    Check { value: String },
}

#[derive(Debug, Clone, Default)]
pub struct Lookups {
    waiting: BTreeMap<InstanceId, Vec<Waiter>>,
    waiters: usize,
}

impl Lookups {
    /// Parks `waiter` on `instance`, asking the runtime for the value the first time.
    /// Returns the waiter back when [`MAX_LOOKUP_WAITERS`] already wait.
    pub fn park(&mut self, instance: InstanceId, waiter: Waiter, fx: &mut Effects) -> Result<(), Waiter> {
        if self.waiters >= MAX_LOOKUP_WAITERS {
            return Err(waiter);
        }
        let list = self.waiting.entry(instance).or_default();
        if list.is_empty() {
            fx.push(Output::Lookup { instance });
        }
        list.push(waiter);
        self.waiters += 1;
        Ok(())
    }

    /// Every waiter of `instance`, in arrival order.
    pub fn take(&mut self, instance: InstanceId) -> Vec<Waiter> {
        let list = self.waiting.remove(&instance).unwrap_or_default();
        self.waiters -= list.len();
        list
    }

    pub fn waiters(&self) -> usize {
        self.waiters
    }
}

impl Lookups {
    /// Names every other node `n` `map(n)` (see `rename.rs`): the peers waiting for values.
    pub(crate) fn rename(&mut self, map: &dyn Fn(NodeId) -> NodeId) {
        for waiter in self.waiting.values_mut().flatten() {
            if let Waiter::Peer(n) = waiter {
                *n = map(*n);
            }
        }
    }

    /// Feeds the state to `h` (ordered already; see `fingerprint.rs`).
    pub(crate) fn hash_state<H: Hasher>(&self, h: &mut H) {
        self.waiting.hash(h);
        self.waiters.hash(h);
    }
}
