//! The acceptor: per instance, the highest ballot it promised and the value it accepted.
//!
//! Rules (Lamport, "Paxos Made Simple"): promise a `prepare` whose ballot is at least the
//! current promise, reporting the accepted value; accept an `accept` whose ballot is at least
//! the current promise, raising the promise to it. Everything else gets a `nack` carrying
//! the promise, so the proposer can pick a higher ballot. State changes are persisted before
//! the reply (the output queue orders them).

use super::ballot::{Ballot, InstanceId, NodeId};
use super::bug::Bug;
use super::config::Config;
use super::fingerprint::sorted_keys;
use super::hash::FastMap;
use super::msg::{Accept, Accepted, AcceptedValue, Msg, Nack, Prepare, Promise};
use super::output::Effects;
use super::record::Record;
use std::hash::{Hash, Hasher};

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AcceptorSlot {
    pub promised: Ballot,
    pub accepted: Option<AcceptedValue>,
}

#[derive(Debug, Clone, Default)]
pub struct Acceptor {
    slots: FastMap<InstanceId, AcceptorSlot>,
}

impl Acceptor {
    /// Replays one durable record (start-up).
    pub fn restore(&mut self, config: &Config, record: &Record) {
        match record {
            Record::Promise { instance, ballot } => {
                let slot = self.slots.entry(*instance).or_default();
                slot.promised = slot.promised.max(*ballot);
            }
            Record::Accept { instance, ballot, value } => {
                let slot = self.slots.entry(*instance).or_default();
                if !config.has_bug(Bug::AcceptKeepsPromise) {
                    slot.promised = slot.promised.max(*ballot);
                }
                slot.accepted = Some(AcceptedValue { ballot: *ballot, value: value.clone() });
            }
            Record::Round { .. } | Record::Learned { .. } | Record::Retired { .. } => {}
        }
    }

    /// Forgets a retired instance: its decision is in the archive, and a `prepare` or
    /// `accept` for it is answered with `decided` from there.
    pub fn forget(&mut self, instance: InstanceId) {
        self.slots.remove(&instance);
    }

    /// Instances with acceptor state in memory.
    pub fn live_slots(&self) -> usize {
        self.slots.len()
    }

    /// The records that rebuild this acceptor, lowest instance first: a promise and the
    /// accepted value of each slot. Nothing under the volatile-acceptor mutant, which
    /// persists nothing.
    pub fn snapshot(&self, config: &Config, out: &mut Vec<Record>) {
        if config.has_bug(Bug::VolatileAcceptor) {
            return;
        }
        let mut ids: Vec<InstanceId> = self.slots.keys().copied().collect();
        ids.sort_unstable();
        for instance in ids {
            let slot = &self.slots[&instance];
            // An `Accept` record restores its ballot as the promise too (unless mutated), so
            // a promise is written only when it is above the accepted ballot.
            let covered = !config.has_bug(Bug::AcceptKeepsPromise)
                && slot.accepted.as_ref().is_some_and(|a| a.ballot >= slot.promised);
            if slot.promised > Ballot::ZERO && !covered {
                out.push(Record::Promise { instance, ballot: slot.promised });
            }
            if let Some(acc) = &slot.accepted {
                out.push(Record::Accept { instance, ballot: acc.ballot, value: acc.value.clone() });
            }
        }
    }

    pub fn slot(&self, instance: InstanceId) -> Option<&AcceptorSlot> {
        self.slots.get(&instance)
    }

    pub fn on_prepare(&mut self, config: &Config, from: NodeId, m: Prepare, fx: &mut Effects) {
        let slot = self.slots.entry(m.instance).or_default();
        let before = Snapshot::of(slot);
        if m.ballot >= slot.promised {
            if m.ballot > slot.promised {
                slot.promised = m.ballot;
                if !config.has_bug(Bug::VolatileAcceptor) {
                    fx.persist(Record::Promise { instance: m.instance, ballot: m.ballot });
                }
            }
            let promise = Promise { instance: m.instance, ballot: m.ballot, accepted: slot.accepted.clone() };
            fx.send(from, Msg::Promise(promise));
        } else {
            let nack = Nack { instance: m.instance, ballot: m.ballot, promised: slot.promised };
            fx.send(from, Msg::Nack(nack));
        }
        check_invariants(config, &before, slot);
    }

    pub fn on_accept(&mut self, config: &Config, from: NodeId, m: Accept, fx: &mut Effects) {
        let slot = self.slots.entry(m.instance).or_default();
        let before = Snapshot::of(slot);
        if m.ballot >= slot.promised || config.has_bug(Bug::AcceptLowerBallot) {
            if m.ballot > slot.promised && !config.has_bug(Bug::AcceptKeepsPromise) {
                slot.promised = m.ballot;
            }
            let accepted = AcceptedValue { ballot: m.ballot, value: m.value };
            // A duplicated `accept` changes nothing and needs no new write.
            if slot.accepted.as_ref() != Some(&accepted) {
                slot.accepted = Some(accepted.clone());
                if !config.has_bug(Bug::VolatileAcceptor) {
                    fx.persist(Record::Accept {
                        instance: m.instance,
                        ballot: accepted.ballot,
                        value: accepted.value.clone(),
                    });
                }
            }
            let reply = Msg::Accepted(Accepted {
                instance: m.instance,
                ballot: accepted.ballot,
                value: accepted.value,
            });
            // To every learner, and to the proposer unless it is one of them.
            fx.broadcast(&config.learners, &reply);
            if !config.learners.contains(&from) {
                fx.send(from, reply);
            }
        } else {
            let nack = Nack { instance: m.instance, ballot: m.ballot, promised: slot.promised };
            fx.send(from, Msg::Nack(nack));
        }
        check_invariants(config, &before, slot);
    }
}

/// The ballots of a slot before a step (no value copied).
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    promised: Ballot,
    accepted: Option<Ballot>,
}

impl Snapshot {
    fn of(slot: &AcceptorSlot) -> Snapshot {
        Snapshot { promised: slot.promised, accepted: slot.accepted.as_ref().map(|a| a.ballot) }
    }
}

/// What must hold after every step of a correct acceptor. Mutants that break an invariant on
/// purpose skip the assertion they break, and only that one.
fn check_invariants(config: &Config, before: &Snapshot, after: &AcceptorSlot) {
    // A promise never goes down.
    assert!(after.promised >= before.promised, "acceptor promise went down: {before:?} -> {after:?}");
    if !config.has_bug(Bug::AcceptKeepsPromise) {
        // Whatever was accepted was also promised.
        if let Some(acc) = &after.accepted {
            assert!(
                after.promised >= acc.ballot,
                "acceptor accepted {} above its promise {}",
                acc.ballot,
                after.promised
            );
        }
    }
    if !config.has_bug(Bug::AcceptLowerBallot) && !config.has_bug(Bug::AcceptKeepsPromise) {
        // An accepted ballot never goes down.
        if let (Some(b), Some(a)) = (before.accepted, &after.accepted) {
            assert!(a.ballot >= b, "accepted ballot went down: {before:?} -> {after:?}");
        }
    }
}

impl Acceptor {
    /// Feeds the state to `h` in instance order (see `fingerprint.rs`).
    pub(crate) fn hash_state<H: Hasher>(&self, h: &mut H) {
        let ids = sorted_keys(self.slots.keys());
        h.write_usize(ids.len());
        for instance in ids {
            instance.hash(h);
            self.slots[&instance].hash(h);
        }
    }
}
