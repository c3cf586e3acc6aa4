//! The decisions a node knows, in two tiers, so that its memory stays bounded over an hour of
//! decisions:
//!
//! - **live**: the newest decisions, value in memory, at most `Tuning::retain_decided` of
//!   them (beyond it the oldest is retired). Live instances keep their acceptor, proposer and
//!   learner state, so the protocol runs on them exactly as if nothing were ever retired.
//! - **retired**: older decisions, known only as a set of ids (a few words per run of dense
//!   ids); their values live in the runtime's archive on disk, fetched with a lookup effect
//!   when a peer or client asks. The node's other roles have forgotten them: an acceptor
//!   answers a `prepare` or `accept` for one with `decided`.
//!
//! Why not retire at once: a decided instance that is still contended is where a mutant's
//! broken rule shows (a second proposer's phase 1 against a half-updated quorum). Answering
//! `decided` straight away would hide it; answering only for decisions a window old keeps the
//! protocol visible where the bench looks and bounds memory where soaks run for hours.

use super::ballot::InstanceId;
use super::ranges::RangeSet;
use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};

/// What a node knows of an instance's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known<'a> {
    /// Decided, value in memory.
    Live(&'a str),
    /// Decided long ago: the value is in the archive (ask with `Output::Lookup`).
    Retired,
}

#[derive(Debug, Clone, Default)]
pub struct Decisions {
    live: BTreeMap<InstanceId, String>,
    /// Live ids in the order they were decided: the front is retired first.
    order: VecDeque<InstanceId>,
    retired: RangeSet,
}

impl Decisions {
    pub fn get(&self, instance: InstanceId) -> Option<Known<'_>> {
        if let Some(value) = self.live.get(&instance) {
            return Some(Known::Live(value));
        }
        self.retired.contains(instance).then_some(Known::Retired)
    }

    pub fn contains(&self, instance: InstanceId) -> bool {
        self.get(instance).is_some()
    }

    pub fn is_retired(&self, instance: InstanceId) -> bool {
        self.retired.contains(instance)
    }

    pub fn retired(&self) -> &RangeSet {
        &self.retired
    }

    /// Decisions known, live and retired.
    pub fn count(&self) -> u64 {
        self.live.len() as u64 + self.retired.count()
    }

    pub fn live_len(&self) -> usize {
        self.live.len()
    }

    /// Records a live decision; the first value known stands (a decided value never
    /// changes). Returns the standing value. Not for a retired instance.
    pub fn insert(&mut self, instance: InstanceId, value: &str) -> &str {
        assert!(!self.retired.contains(instance), "instance {instance} is retired: its decision is on disk");
        let order = &mut self.order;
        self.live.entry(instance).or_insert_with(|| {
            order.push_back(instance);
            value.to_string()
        })
    }

    /// Marks `from..=to` retired (replaying a snapshot's `Retired` record).
    pub fn restore_retired(&mut self, from: InstanceId, to: InstanceId) {
        self.retired.insert_range(from, to);
    }

    /// Moves the oldest live decision to the retired tier if more than `retain` are live;
    /// returns it (the caller archives the value and forgets the instance everywhere else).
    pub fn retire_beyond(&mut self, retain: usize) -> Option<(InstanceId, String)> {
        if self.live.len() <= retain {
            return None;
        }
        let instance = self.order.pop_front().expect("every live decision is in the order");
        let value = self.live.remove(&instance).expect("the order holds only live decisions");
        self.retired.insert(instance);
        assert_eq!(self.order.len(), self.live.len(), "order and live decisions stay in step");
        Some((instance, value))
    }

    /// The smallest decided id at or above `from`.
    pub fn next_known(&self, from: InstanceId) -> Option<InstanceId> {
        let live = self.live.range(from..).next().map(|(&i, _)| i);
        let retired = self.retired.next_at_or_after(from);
        live.into_iter().chain(retired).min()
    }

    /// The smallest undecided id at or above `from` (`None` only if every id up to
    /// `u64::MAX` is decided). Bounded by the live decisions and retired runs it passes.
    pub fn next_unknown(&self, from: InstanceId) -> Option<InstanceId> {
        let mut next = from;
        loop {
            if let Some((_, end)) = self.retired.run_of(next) {
                next = end.checked_add(1)?;
            } else if self.live.contains_key(&next) {
                next = next.checked_add(1)?;
            } else {
                return Some(next);
            }
        }
    }

    /// Decided ids in `from..=to`, lowest first, at most `limit`.
    pub fn known_in(&self, from: InstanceId, to: InstanceId, limit: usize) -> Vec<InstanceId> {
        let mut out = Vec::new();
        let mut at = from;
        while out.len() < limit && at <= to {
            let Some(next) = self.next_known(at).filter(|&n| n <= to) else { break };
            out.push(next);
            let Some(after) = next.checked_add(1) else { break };
            at = after;
        }
        out
    }
}

impl Decisions {
    /// Feeds the state to `h` (every part is ordered already; see `fingerprint.rs`).
    pub(crate) fn hash_state<H: Hasher>(&self, h: &mut H) {
        self.live.hash(h);
        self.order.hash(h);
        self.retired.hash(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_decided_is_retired_first_and_the_first_value_stands() {
        let mut d = Decisions::default();
        for (i, v) in [(5, "a"), (3, "b"), (4, "c")] {
            d.insert(i, v);
        }
        assert_eq!(d.insert(5, "other"), "a");
        assert_eq!(d.retire_beyond(3), None);
        assert_eq!(d.retire_beyond(1), Some((5, "a".to_string())));
        assert_eq!(d.retire_beyond(1), Some((3, "b".to_string())));
        assert_eq!(d.retire_beyond(1), None);
        assert_eq!(d.get(5), Some(Known::Retired));
        assert_eq!(d.get(4), Some(Known::Live("c")));
        assert_eq!(d.get(6), None);
        assert_eq!((d.count(), d.live_len(), d.retired().runs()), (3, 1, 2));
    }

    #[test]
    fn scans_step_over_live_and_retired_ids() {
        let mut d = Decisions::default();
        d.restore_retired(10, 1_000_000);
        d.insert(1_000_001, "x");
        d.insert(1_000_003, "y");
        assert_eq!(d.next_unknown(10), Some(1_000_002));
        assert_eq!(d.next_unknown(1), Some(1));
        assert_eq!(d.next_known(1), Some(10));
        assert_eq!(d.next_known(1_000_002), Some(1_000_003));
        assert_eq!(d.known_in(999_999, 2_000_000, 64), vec![999_999, 1_000_000, 1_000_001, 1_000_003]);
        assert_eq!(d.known_in(5, 100, 3), vec![10, 11, 12]);
        d.restore_retired(u64::MAX - 1, u64::MAX);
        assert_eq!(d.known_in(u64::MAX - 1, u64::MAX, 64), vec![u64::MAX - 1, u64::MAX]);
        assert_eq!(d.next_unknown(u64::MAX - 1), None);
    }

    #[test]
    #[should_panic(expected = "is retired")]
    fn a_retired_instance_is_never_made_live_again() {
        let mut d = Decisions::default();
        d.restore_retired(1, 2);
        d.insert(2, "v");
    }
}
