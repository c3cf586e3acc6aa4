//! Revisits: proposals to instances that are already decided, each with a fresh value and at
//! a proposer other than the ones that proposed the instance before.
//!
//! Why: a correct cluster answers such a proposal with the decided value, whatever value it
//! carries. A cluster whose acceptors forget what they accepted (no fsync, a volatile
//! acceptor, a power loss) can instead choose the fresh value as a second value for the
//! instance, and the checker's agreement and chosen-uniqueness rules see it at once. Without
//! revisits the workload proposes only to new instances, and such amnesia shows only in the
//! final phase, if at all.
//!
//! This file holds the whole draw: whether a new op is a revisit (with probability
//! `--revisit`, from the revisits' own generator, so that the rest of the workload draws
//! what it would without them), which decided instance (half the time one some proposer has
//! not learned, else one from a bounded uniform sample, a reservoir, of the decided
//! instances with who proposed them), and which proposer. The workload's fill (mod.rs)
//! invokes it.

use super::{NodeId, Workload};
use std::collections::HashMap;
use synod_node::paxos::rng::Rng;
use synod_node::paxos::InstanceId;

/// Instances looked at to find one some proposer has not learned, per revisit, at most.
const UNLEARNED_SCAN_MAX: usize = 256;

/// Decided instances kept in the sample, at most: memory does not grow with the run.
pub const SAMPLE_MAX: usize = 4_096;

/// Nodes as bits: node `n` (1..=64, `limits::MAX_NODES`) is bit `n - 1`.
pub type NodeSet = u64;

pub fn bit(node: NodeId) -> NodeSet {
    assert!((1..=64).contains(&node), "node id {node} outside 1..=64");
    1 << (node - 1)
}

/// A uniform sample of at most [`SAMPLE_MAX`] of the decided instances seen so far
/// (reservoir sampling, Vitter's algorithm R), each with the proposers it was invoked at.
#[derive(Default)]
pub struct Sample {
    entries: Vec<(InstanceId, NodeSet)>,
    index: HashMap<InstanceId, usize>,
    /// Decided instances offered so far.
    seen: u64,
}

impl Sample {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn contains(&self, instance: InstanceId) -> bool {
        self.index.contains_key(&instance)
    }

    /// `instance` was just seen decided (offer each instance once), proposed at `proposed_by`.
    pub fn offer(&mut self, rng: &mut Rng, instance: InstanceId, proposed_by: NodeSet) {
        debug_assert!(!self.contains(instance), "instance {instance} offered twice");
        self.seen += 1;
        if self.entries.len() < SAMPLE_MAX {
            self.index.insert(instance, self.entries.len());
            self.entries.push((instance, proposed_by));
            return;
        }
        let slot = rng.below(self.seen) as usize;
        if slot < SAMPLE_MAX {
            let (old, _) = self.entries[slot];
            self.index.remove(&old);
            self.index.insert(instance, slot);
            self.entries[slot] = (instance, proposed_by);
        }
        assert!(self.entries.len() <= SAMPLE_MAX && self.index.len() == self.entries.len());
    }

    /// `node` proposed `instance` (again): a later revisit prefers another proposer.
    pub fn proposed(&mut self, instance: InstanceId, node: NodeId) {
        if let Some(&i) = self.index.get(&instance) {
            self.entries[i].1 |= bit(node);
        }
    }

    /// A sampled instance, uniformly, with its proposers.
    pub fn pick(&self, rng: &mut Rng) -> Option<(InstanceId, NodeSet)> {
        if self.entries.is_empty() {
            return None;
        }
        Some(self.entries[rng.below(self.entries.len() as u64) as usize])
    }
}

/// What a revisit's proposer is chosen for first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefer {
    /// A proposer that did not propose the instance before, then one that has not learned it.
    Other,
    /// A proposer that has not learned the instance (that is where the revisit is sent), then
    /// one that did not propose it before.
    Unlearned,
}

/// The revisit's proposer, drawn among the best by `prefer`: `proposed_by` proposed the
/// instance before, `learned` are the nodes known to have learned it.
pub fn proposer(
    rng: &mut Rng,
    proposers: &[NodeId],
    proposed_by: NodeSet,
    learned: NodeSet,
    prefer: Prefer,
) -> NodeId {
    assert!(!proposers.is_empty(), "a run has proposers");
    let rank = |&n: &NodeId| {
        let other = proposed_by & bit(n) == 0;
        let unlearned = learned & bit(n) == 0;
        match prefer {
            Prefer::Other => (other, unlearned),
            Prefer::Unlearned => (unlearned, other),
        }
    };
    let best = proposers.iter().map(rank).max().expect("not empty");
    let tier: Vec<NodeId> = proposers.iter().copied().filter(|n| rank(n) == best).collect();
    tier[rng.below(tier.len() as u64) as usize]
}

impl Workload {
    /// Whether the next new op is a revisit: drawn with probability `revisit` (nothing is
    /// drawn when it is 0).
    pub(super) fn draw_revisit(&mut self) -> bool {
        if self.cfg.revisit <= 0.0 {
            return false;
        }
        // 53 random bits as a number in [0, 1).
        let unit = (self.revisit_rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit < self.cfg.revisit
    }

    /// A decided instance and the proposer to revisit it at, if any instance is decided: half
    /// the time one that some proposer has not learned (sent to such a proposer), else one
    /// from the sample of all decided instances (sent to a proposer that did not propose it);
    /// each falls back on the other.
    pub(super) fn pick_revisit(&mut self) -> Option<(InstanceId, NodeId)> {
        if self.revisit_rng.below(2) == 0 {
            self.pick_unlearned().or_else(|| self.pick_sampled())
        } else {
            self.pick_sampled().or_else(|| self.pick_unlearned())
        }
    }

    /// A decided instance some proposer has not learned yet: the first such one at or after
    /// a random point of the unlearned instances (looking at UNLEARNED_SCAN_MAX at most).
    pub(super) fn pick_unlearned(&mut self) -> Option<(InstanceId, NodeId)> {
        let (&first, _) = self.unlearned.first_key_value()?;
        let (&last, _) = self.unlearned.last_key_value()?;
        let start = first + self.revisit_rng.below(last - first + 1);
        let proposers = &self.cfg.proposers;
        let found = self
            .unlearned
            .range(start..)
            .chain(self.unlearned.range(..start))
            .take(UNLEARNED_SCAN_MAX)
            .find(|(_, l)| l.seen_decided && proposers.iter().any(|&p| l.learned & bit(p) == 0))
            .map(|(&instance, l)| (instance, l.proposed_by, l.learned));
        let (instance, proposed_by, learned) = found?;
        let node = proposer(&mut self.revisit_rng, proposers, proposed_by, learned, Prefer::Unlearned);
        Some((instance, node))
    }

    /// A decided instance from the sample, at a proposer that did not propose it.
    pub(super) fn pick_sampled(&mut self) -> Option<(InstanceId, NodeId)> {
        let (instance, proposed_by) = self.sample.pick(&mut self.revisit_rng)?;
        // Not among the unlearned: every learner learned it.
        let learned = self.unlearned.get(&instance).map_or(self.learners, |l| l.learned);
        let node = proposer(&mut self.revisit_rng, &self.cfg.proposers, proposed_by, learned, Prefer::Other);
        Some((instance, node))
    }

    /// Invokes a revisit of the decided `instance` at `node`.
    pub(super) fn invoke_revisit(&mut self, now_us: u64, instance: InstanceId, node: NodeId) {
        self.invoke(now_us, instance, node);
        let inv = self.invokes.back_mut().expect("just invoked");
        inv.revisit = true;
        self.ops.get_mut(&inv.op).expect("just invoked").revisit = true;
        self.revisits_open += 1;
        self.stats.revisits += 1;
        assert!(self.in_flight.get(&instance).is_some_and(|i| i.decided), "a revisit holds no slot");
        assert!(self.revisits_open <= self.revisits_max());
    }

    /// `instance` was decided (a learn or an `ok`): offered to the revisit sample, once.
    pub(super) fn seen_decided(&mut self, instance: InstanceId) {
        // An instance no longer among the unlearned was learned by every learner: seen.
        let Some(lacking) = self.unlearned.get_mut(&instance) else { return };
        if lacking.seen_decided {
            return;
        }
        lacking.seen_decided = true;
        if self.cfg.revisit > 0.0 {
            self.sample.offer(&mut self.revisit_rng, instance, lacking.proposed_by);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_bounded_and_uniform_over_everything_offered() {
        let mut rng = Rng::new(3);
        let mut s = Sample::default();
        let total = 4 * SAMPLE_MAX as u64;
        for i in 1..=total {
            s.offer(&mut rng, i, bit(1));
        }
        assert_eq!(s.len(), SAMPLE_MAX);
        assert_eq!(s.index.len(), SAMPLE_MAX);
        for (i, &(instance, _)) in s.entries.iter().enumerate() {
            assert_eq!(s.index[&instance], i);
        }
        // Uniform: each quarter of the instances offered holds about a quarter of the sample.
        let mut quarters = [0usize; 4];
        for &(instance, _) in &s.entries {
            quarters[((instance - 1) * 4 / total) as usize] += 1;
        }
        for q in quarters {
            assert!((800..=1250).contains(&q), "{quarters:?}");
        }
    }

    #[test]
    fn proposers_are_recorded_and_a_pick_comes_from_the_sample() {
        let mut rng = Rng::new(1);
        let mut s = Sample::default();
        assert_eq!(s.pick(&mut rng), None);
        s.offer(&mut rng, 7, bit(2));
        s.proposed(7, 3);
        s.proposed(8, 3); // not sampled: ignored
        assert_eq!(s.pick(&mut rng), Some((7, bit(2) | bit(3))));
        assert!(!s.contains(8));
    }

    #[test]
    fn the_proposer_is_another_one_then_one_that_has_not_learned() {
        let mut rng = Rng::new(5);
        let all = [1, 2, 3, 4];
        for _ in 0..100 {
            // n1 and n2 proposed it; n3 learned it: n4 is both other and unlearned.
            assert_eq!(proposer(&mut rng, &all, bit(1) | bit(2), bit(3), Prefer::Other), 4);
            // Only n1 has not learned it, and n1 proposed it: the unlearned half sends there.
            let learned = bit(2) | bit(3) | bit(4);
            assert_eq!(proposer(&mut rng, &all, bit(1), learned, Prefer::Unlearned), 1);
            // ...while the uniform half prefers a proposer that did not propose it.
            assert_ne!(proposer(&mut rng, &all, bit(1), learned, Prefer::Other), 1);
            // Every proposer proposed it: any of them, still preferring the unlearned.
            assert_eq!(proposer(&mut rng, &[1, 2], bit(1) | bit(2), bit(1), Prefer::Other), 2);
            assert_eq!(proposer(&mut rng, &[5], bit(5), bit(5), Prefer::Unlearned), 5);
        }
        // Ties are drawn: both n3 and n4 come up.
        let picks: std::collections::BTreeSet<NodeId> =
            (0..100).map(|_| proposer(&mut rng, &all, bit(1) | bit(2), 0, Prefer::Other)).collect();
        assert_eq!(picks.into_iter().collect::<Vec<_>>(), vec![3, 4]);
    }
}
