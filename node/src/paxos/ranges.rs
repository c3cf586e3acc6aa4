//! A set of instance ids kept as disjoint inclusive runs, so that the ids of a workload that
//! numbers its instances densely (as synod's does) cost a few words however many there are.
//! Memory grows with the number of gaps, not the number of ids.

use super::ballot::InstanceId;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RangeSet {
    /// start -> end (inclusive); runs never overlap nor touch.
    runs: BTreeMap<InstanceId, InstanceId>,
    /// Ids in the set.
    count: u64,
}

impl RangeSet {
    pub fn contains(&self, id: InstanceId) -> bool {
        self.runs.range(..=id).next_back().is_some_and(|(_, &end)| id <= end)
    }

    /// Ids in the set.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Runs in the set (what its memory grows with).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// The runs, lowest first, as (from, to) inclusive.
    pub fn iter(&self) -> impl Iterator<Item = (InstanceId, InstanceId)> + '_ {
        self.runs.iter().map(|(&from, &to)| (from, to))
    }

    /// The run holding `id`, if any.
    pub fn run_of(&self, id: InstanceId) -> Option<(InstanceId, InstanceId)> {
        self.runs.range(..=id).next_back().filter(|(_, &end)| id <= end).map(|(&s, &e)| (s, e))
    }

    /// The smallest id of the set at or above `id`.
    pub fn next_at_or_after(&self, id: InstanceId) -> Option<InstanceId> {
        if self.contains(id) {
            return Some(id);
        }
        self.runs.range(id..).next().map(|(&start, _)| start)
    }

    pub fn insert(&mut self, id: InstanceId) {
        self.insert_range(id, id);
    }

    /// Adds every id of `from..=to`, merging with the runs it overlaps or touches.
    pub fn insert_range(&mut self, from: InstanceId, to: InstanceId) {
        assert!(from <= to, "an empty range {from}..={to}");
        let mut start = from;
        let mut end = to;
        // Bounded by the runs: each pass removes one.
        loop {
            // The last run starting at or before end + 1 (touching counts as overlapping).
            let probe = end.saturating_add(1);
            let Some((&s, &e)) = self.runs.range(..=probe).next_back() else { break };
            if e.saturating_add(1) < start {
                break;
            }
            self.runs.remove(&s);
            self.count -= e - s + 1;
            start = start.min(s);
            end = end.max(e);
        }
        self.runs.insert(start, end);
        self.count += end - start + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn runs_merge_when_they_touch_or_overlap() {
        let mut s = RangeSet::default();
        s.insert(5);
        s.insert(7);
        assert_eq!((s.runs(), s.count()), (2, 2));
        s.insert(6);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(5, 7)]);
        s.insert_range(1, 3);
        s.insert_range(2, 10);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(1, 10)]);
        assert_eq!(s.count(), 10);
        s.insert(u64::MAX);
        s.insert(0);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(0, 10), (u64::MAX, u64::MAX)]);
        assert!(s.contains(0) && s.contains(10) && !s.contains(11) && s.contains(u64::MAX));
        assert_eq!(s.next_at_or_after(11), Some(u64::MAX));
        assert_eq!(s.next_at_or_after(4), Some(4));
        assert_eq!(s.run_of(4), Some((0, 10)));
        assert_eq!(s.run_of(11), None);
    }

    #[test]
    fn agrees_with_a_plain_set_on_random_inserts() {
        let mut rng = crate::paxos::rng::Rng::new(7);
        for _ in 0..200 {
            let mut s = RangeSet::default();
            let mut plain = BTreeSet::new();
            for _ in 0..40 {
                let from = rng.below(60);
                let to = from + rng.below(5);
                s.insert_range(from, to);
                plain.extend(from..=to);
            }
            assert_eq!(s.count(), plain.len() as u64);
            for id in 0..70 {
                assert_eq!(s.contains(id), plain.contains(&id), "{id}");
                assert_eq!(s.next_at_or_after(id), plain.range(id..).next().copied(), "{id}");
            }
            let runs: Vec<_> = s.iter().collect();
            assert!(runs.windows(2).all(|w| w[0].1 + 1 < w[1].0), "disjoint, not touching: {runs:?}");
        }
    }
}
