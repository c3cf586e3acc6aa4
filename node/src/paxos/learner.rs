//! The learner: a value is chosen when a quorum of acceptors accepted it at one ballot, or
//! when a proposer that saw that happen says `decided`. A decided value never changes; a
//! conflicting decision (possible only when some node runs a mutant) is still reported, so
//! the checker sees it, but the learner keeps the first.
//!
//! The learner's record of a decision is a cache, not a vote: the value is already durable
//! on a quorum of acceptors, and a learner that forgets it can only learn the same value
//! again. So the report goes out first and the `Learned` record follows as a lazy persist,
//! which nothing waits for: a decision costs the learner no disk wait, and neither does the
//! next proposal that arrives behind it.

use super::ballot::{Ballot, InstanceId, NodeId};
use super::bug::Bug;
use super::config::Config;
use super::fingerprint::sorted_keys;
use super::hash::{FastMap, FastSet};
use super::msg::Accepted;
use super::output::{Effects, Output};
use super::record::Record;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

/// Distinct (ballot, value) tallies kept per undecided instance, at most; beyond it the
/// oldest ballots are forgotten (they can only be outvoted by higher ones).
pub const MAX_TALLIES_PER_INSTANCE: usize = 256;

/// What `learn` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Learn {
    /// First decision for this instance.
    New,
    /// Already known, same value.
    Known,
    /// Already known with another value: a safety violation somewhere.
    Conflict,
}

#[derive(Debug, Clone, Default)]
pub struct Learner {
    learned: FastMap<InstanceId, String>,
    /// Restored decisions not yet reported to the controller by this incarnation: the report
    /// of the previous one may have died between its fsync and its send.
    unreported: FastSet<InstanceId>,
    tallies: FastMap<InstanceId, FastMap<(Ballot, String), BTreeSet<NodeId>>>,
}

impl Learner {
    pub fn restore(&mut self, record: &Record) {
        if let Record::Learned { instance, value } = record {
            self.learned.entry(*instance).or_insert_with(|| value.clone());
            self.unreported.insert(*instance);
        }
    }

    pub fn learned(&self, instance: InstanceId) -> Option<&str> {
        self.learned.get(&instance).map(String::as_str)
    }

    /// Forgets a retired instance (its decision is in the archive).
    pub fn forget(&mut self, instance: InstanceId) {
        self.learned.remove(&instance);
        self.unreported.remove(&instance);
        self.tallies.remove(&instance);
    }

    /// Instances with learner state in memory (decided or being tallied).
    pub fn live_instances(&self) -> usize {
        self.learned.len() + self.tallies.len()
    }

    /// The records that rebuild this learner: a `Learned` per decision, lowest instance first.
    pub fn snapshot(&self, out: &mut Vec<Record>) {
        let mut ids: Vec<InstanceId> = self.learned.keys().copied().collect();
        ids.sort_unstable();
        for instance in ids {
            out.push(Record::Learned { instance, value: self.learned[&instance].clone() });
        }
    }

    /// Counts an `accepted`; returns the chosen value when this one completes a quorum.
    pub fn on_accepted(&mut self, config: &Config, from: NodeId, m: &Accepted) -> Option<String> {
        if !config.acceptors.contains(&from) || self.learned.contains_key(&m.instance) {
            return None;
        }
        let tallies = self.tallies.entry(m.instance).or_default();
        let key = (m.ballot, m.value.clone());
        if !tallies.contains_key(&key) && tallies.len() >= MAX_TALLIES_PER_INSTANCE {
            let lowest = tallies.keys().min().cloned().expect("non-empty tallies");
            tallies.remove(&lowest);
        }
        let voters = tallies.entry(key).or_default();
        voters.insert(from);
        let needed = if config.has_bug(Bug::LearnOnOne) { 1 } else { config.quorum() };
        (voters.len() >= needed).then(|| m.value.clone())
    }

    /// Reports a restored decision once per incarnation; true if it had not been reported.
    pub fn report_restored(&mut self, instance: InstanceId, fx: &mut Effects) -> bool {
        if self.unreported.is_empty() {
            return false; // the common case, on every retirement: no hashing
        }
        let Some(value) = self.learned.get(&instance) else { return false };
        if !self.unreported.remove(&instance) {
            return false;
        }
        fx.push(Output::Learned { instance, value: value.clone() });
        true
    }

    /// Records a decision: reported to the controller, then persisted lazily.
    pub fn learn(&mut self, instance: InstanceId, value: &str, fx: &mut Effects) -> Learn {
        self.tallies.remove(&instance);
        match self.learned.get(&instance) {
            Some(known) if known == value => Learn::Known,
            Some(_) => {
                fx.push(Output::Learned { instance, value: value.to_string() });
                Learn::Conflict
            }
            None => {
                self.learned.insert(instance, value.to_string());
                fx.push(Output::Learned { instance, value: value.to_string() });
                fx.persist_lazy(Record::Learned { instance, value: value.to_string() });
                Learn::New
            }
        }
    }
}

impl Learner {
    /// Names every other node `n` `map(n)` (see `rename.rs`): the voters in its tallies.
    pub(crate) fn rename(&mut self, map: &dyn Fn(NodeId) -> NodeId) {
        for tallies in self.tallies.values_mut() {
            for voters in tallies.values_mut() {
                *voters = voters.iter().map(|&n| map(n)).collect();
            }
        }
    }

    /// Feeds the state to `h` in instance order (see `fingerprint.rs`).
    pub(crate) fn hash_state<H: Hasher>(&self, h: &mut H) {
        let learned = sorted_keys(self.learned.keys());
        h.write_usize(learned.len());
        for instance in learned {
            instance.hash(h);
            self.learned[&instance].hash(h);
        }
        sorted_keys(self.unreported.iter()).hash(h);
        let tallied = sorted_keys(self.tallies.keys());
        h.write_usize(tallied.len());
        for instance in tallied {
            instance.hash(h);
            let tallies = &self.tallies[&instance];
            let mut keys: Vec<&(Ballot, String)> = tallies.keys().collect();
            keys.sort_unstable();
            h.write_usize(keys.len());
            for key in keys {
                key.hash(h);
                tallies[key].hash(h);
            }
        }
    }
}
