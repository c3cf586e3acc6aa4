//! `chosen-uniqueness`: per instance, every (ballot, value) for which a majority of the
//! acceptors (from the run header) sent `accepted` carries the same value, and that value
//! is what the learners learned (and what `ok` returned).
//!
//! A decision is compared with the chosen value as soon as both are known. A decision whose
//! value no majority ever accepted is not this rule's business but learned-only-if-chosen's
//! (`learned_chosen.rs`), which shares the vote counting kept here.
//!
//! Kept for later: the votes per (ballot, value) and the first chosen pair, in the compact
//! record.

use super::{Anomalies, Found, Rule};
use crate::ballot::Ballot;
use crate::instance::{Chosen, Decision, Instance, Ref};
use crate::report::EventLine;
use crate::trace::{show_value, ValueId};

/// Who counts as an acceptor and how many make a majority.
#[derive(Debug, Clone)]
pub(crate) struct Quorum {
    pub acceptors: Vec<u64>,
    pub size: usize,
}

impl Quorum {
    pub fn new(acceptors: Vec<u64>) -> Option<Quorum> {
        (!acceptors.is_empty()).then(|| Quorum { size: acceptors.len() / 2 + 1, acceptors })
    }

    /// Votes of `votes` that count: those of acceptors.
    pub fn count(&self, votes: &[(u64, Ref)]) -> usize {
        votes.iter().filter(|(n, _)| self.acceptors.contains(n)).count()
    }
}

/// At most this many votes are listed as evidence per (ballot, value).
pub(crate) const SHOW_VOTES: usize = 5;

/// Whether a majority of acceptors sent `accepted` for `value` at one ballot.
pub(crate) fn has_majority(inst: &Instance, value: ValueId, q: &Quorum) -> bool {
    inst.ballots.iter().any(|e| e.value == value && q.count(&e.votes) >= q.size)
}

pub(crate) fn votes(inst: &Instance, ballot: Ballot, value: ValueId) -> Vec<EventLine> {
    let Some(e) = inst.ballot_range(ballot).iter().find(|e| e.value == value) else {
        return Vec::new();
    };
    e.votes
        .iter()
        .take(SHOW_VOTES)
        .map(|(node, at)| {
            inst.evidence(*at, || {
                format!("n{node} accepted {ballot} value {}", show_value(&inst.values, value))
            })
        })
        .collect()
}

/// `node` sent `accepted {ballot, value}` (the pair is already recorded). The vote is kept
/// whoever sent it (truthful-promise compares a node's promises with its own votes); only
/// the run's acceptors count toward a majority.
#[allow(clippy::too_many_arguments)]
pub(crate) fn on_accepted(
    id: u64,
    inst: &mut Instance,
    node: u64,
    ballot: Ballot,
    value: ValueId,
    at: Ref,
    quorum: Option<&Quorum>,
    anomalies: &mut Anomalies,
) {
    let entry = inst.ballot_entry(ballot, value, at);
    if entry.votes.iter().any(|(n, _)| *n == node) {
        return;
    }
    entry.votes.push((node, at));
    let Some(q) = quorum else { return };
    if !q.acceptors.contains(&node) || q.count(&entry.votes) != q.size {
        return;
    }
    let first = match inst.chosen {
        None => {
            inst.chosen = Some(Chosen { ballot, value, at });
            if let Some(d) = inst.decided {
                if d.value != value {
                    learned_other(id, inst, d, at, anomalies);
                }
            }
            return;
        }
        Some(c) if c.value == value => return,
        Some(c) => c,
    };
    anomalies.report(Rule::ChosenUniqueness, id, inst, at, |inst| {
        let mut events = votes(inst, first.ballot, first.value);
        events.extend(votes(inst, ballot, value));
        Found {
            message: format!(
                "two values chosen: {} at {} (majority complete at line {}) and {} at {ballot}",
                show_value(&inst.values, first.value),
                first.ballot,
                first.at.line,
                show_value(&inst.values, value),
            ),
            events,
        }
    });
}

/// A learn or ok: must equal the chosen value, if one is known.
pub(crate) fn on_decision(id: u64, inst: &mut Instance, now: Decision, anomalies: &mut Anomalies) {
    if let Some(c) = inst.chosen {
        if c.value != now.value {
            learned_other(id, inst, now, now.at, anomalies);
        }
    }
}

fn learned_other(id: u64, inst: &mut Instance, d: Decision, at: Ref, anomalies: &mut Anomalies) {
    let Some(c) = inst.chosen else { return };
    anomalies.report(Rule::ChosenUniqueness, id, inst, at, |inst| {
        let mut events = vec![inst.evidence(d.at, || super::agreement::describe(inst, &d))];
        events.extend(votes(inst, c.ballot, c.value));
        Found {
            message: format!(
                "{} {} at line {}, but a majority of acceptors accepted {} at {}",
                super::agreement::kind_name(d.kind),
                show_value(&inst.values, d.value),
                d.at.line,
                show_value(&inst.values, c.value),
                c.ballot
            ),
            events,
        }
    });
}
