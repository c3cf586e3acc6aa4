//! A node's state as a hash, for the model checker (`synod model`, docs/model.md): two nodes
//! with the same fingerprint behave the same from here on, whatever inputs follow.
//!
//! Why a walk and not `#[derive(Hash)]`: the core keeps some state in hash maps
//! ([`super::hash::FastMap`]), whose iteration order depends on the order of past inserts
//! and removals, not only on their contents. The walk feeds every map in sorted key order,
//! so equal states hash equal. It lives beside the hot path, never on it: nothing in a
//! node's step calls it.
//!
//! Why relative times: the core keeps deadlines as absolute microseconds, and its steps only
//! ever compare them with the `now_us` they are given. Two states whose deadlines are the
//! same distance from their node's clock behave the same, so the walk feeds `deadline -
//! now`: a model whose clocks only move forward still has finitely many states.
//!
//! The effect queue is not state to be compared: the caller drains it (`poll_output`)
//! before it fingerprints. Its length is fed all the same, so a forgotten output shows.

use super::Node;
use std::hash::{Hash, Hasher};

/// `t` as seen from `now_us` (wrapping: a deadline already past stays distinct).
pub(crate) fn relative_us(t: u64, now_us: u64) -> u64 {
    t.wrapping_sub(now_us)
}

/// The keys of a hash map or set, sorted.
pub(crate) fn sorted_keys<'a, K: Ord + Copy + 'a>(keys: impl Iterator<Item = &'a K>) -> Vec<K> {
    let mut out: Vec<K> = keys.copied().collect();
    out.sort_unstable();
    out
}

impl Node {
    /// Feeds this node's whole state to `h`, in an order that depends only on the state
    /// (never on the history of its hash maps), with deadlines relative to `now_us`, the
    /// node's clock. The config is left out: it never changes.
    pub fn fingerprint<H: Hasher>(&self, now_us: u64, h: &mut H) {
        self.rng.hash(h);
        self.acceptor.hash_state(h);
        self.proposer.hash_state(now_us, h);
        self.learner.hash_state(h);
        self.decisions.hash_state(h);
        self.lookups.hash_state(h);
        self.catchup.hash_state(now_us, h);
        h.write_usize(self.fx.len());
    }
}

#[cfg(test)]
mod tests {
    use super::super::msg::{Msg, Prepare};
    use super::super::{Ballot, Config, Node};
    use std::collections::hash_map::DefaultHasher;
    use std::hash::Hasher;

    fn fp(node: &Node, now_us: u64) -> u64 {
        let mut h = DefaultHasher::new();
        node.fingerprint(now_us, &mut h);
        h.finish()
    }

    fn prepare(node: &mut Node, now_us: u64, instance: u64, round: u64) {
        let m = Msg::Prepare(Prepare { instance, ballot: Ballot::new(round, 2) });
        node.handle_message(now_us, 2, m);
        while node.poll_output().is_some() {}
    }

    #[test]
    fn equal_states_reached_in_another_order_fingerprint_equal() {
        let cfg = Config::all_roles(1, &[1, 2, 3]);
        let (mut a, mut b) = (Node::new(cfg.clone(), &[]), Node::new(cfg, &[]));
        assert_eq!(fp(&a, 0), fp(&b, 0));
        // Many instances, inserted in opposite orders: the acceptor's hash map then
        // iterates them in different orders, the walk must not.
        for i in 0..200 {
            prepare(&mut a, 0, i, 1);
        }
        for i in (0..200).rev() {
            prepare(&mut b, 0, i, 1);
        }
        assert_eq!(fp(&a, 0), fp(&b, 0));
        prepare(&mut b, 0, 7, 2);
        assert_ne!(fp(&a, 0), fp(&b, 0), "a higher promise is another state");
    }

    #[test]
    fn deadlines_count_relative_to_the_clock() {
        let cfg = Config::all_roles(1, &[1, 2, 3]);
        let (mut a, mut b) = (Node::new(cfg.clone(), &[]), Node::new(cfg, &[]));
        a.handle_propose(1_000, 1, 1, "v".into());
        b.handle_propose(5_000, 1, 1, "v".into());
        while a.poll_output().is_some() || b.poll_output().is_some() {}
        assert_eq!(fp(&a, 1_000), fp(&b, 5_000), "the same deadline, seen from each clock");
        assert_ne!(fp(&a, 1_000), fp(&b, 1_000), "a later deadline is another state");
        assert_eq!(a.clone().next_timeout_us(), a.next_timeout_us(), "a clone is the same node");
    }
}
