//! `chosen-uniqueness`: per instance, every (ballot, value) for which a majority of the
//! acceptors (from the run header) sent `accepted` carries the same value, and that value
//! is what the learners learned (and what `ok` returned).
//!
//! A decision is compared with the chosen value as soon as both are known. A decision made
//! while the trace shows no majority for any value is judged when the instance retires (or
//! at the end of a complete history), not at once: a node that is acceptor and learner may
//! count its own vote before its `accepted` to the others is on the wire. Instances whose
//! trace has no `accepted` at all are not judged by this rule (a history without a message
//! trace, written by hand or by another tool).
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
}

/// At most this many votes are listed as evidence per (ballot, value).
const SHOW_VOTES: usize = 5;

fn votes(inst: &Instance, ballot: Ballot, value: ValueId) -> Vec<EventLine> {
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

/// Acceptor `node` sent `accepted {ballot, value}` (the pair is already recorded).
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
    let Some(q) = quorum else { return };
    if !q.acceptors.contains(&node) {
        return;
    }
    let entry = inst.ballot_entry(ballot, value, at);
    if entry.votes.iter().any(|(n, _)| *n == node) {
        return;
    }
    entry.votes.push((node, at));
    if entry.votes.len() != q.size {
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

/// The instance is done (retired, or the complete history ended): a decision with no
/// majority behind it in the trace is a violation.
pub(crate) fn on_retire(id: u64, inst: &mut Instance, at: Ref, anomalies: &mut Anomalies) {
    let Some(d) = inst.decided else { return };
    if inst.chosen.is_some() || !inst.has_votes() {
        return;
    }
    anomalies.report(Rule::ChosenUniqueness, id, inst, at, |inst| {
        let mut events = vec![inst.evidence(d.at, || super::agreement::describe(inst, &d))];
        for e in inst.ballots.iter().filter(|e| !e.votes.is_empty()).take(SHOW_VOTES) {
            events.extend(votes(inst, e.ballot, e.value));
        }
        Found {
            message: format!(
                "{} {} at line {}, but no majority of acceptors ever sent accepted for any value",
                super::agreement::kind_name(d.kind),
                show_value(&inst.values, d.value),
                d.at.line
            ),
            events,
        }
    });
}
