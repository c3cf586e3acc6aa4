//! `learned-only-if-chosen` (Lamport's third safety property): a value is learned, or
//! answered `ok`, only if it was chosen, i.e. a majority of the run's acceptors sent
//! `accepted` for it at one ballot. Without this rule a node that decides on promises
//! alone, or on a forged `decided`, passes as long as nobody contradicts it.
//!
//! Judged only when the history carries message events (the run header's `config.trace`
//! is `"all"`, or at least one Paxos `send` was seen) and names acceptors; otherwise the
//! report says the rule was not judged. Also when the instance has no `accepted` at all.
//!
//! The property is temporal: *learned only if chosen*, so a decision is judged the moment
//! it is seen. One tolerance: a node that is acceptor and learner (or proposer) may count
//! its own vote before its `accepted` is on the wire, and a `decided` may carry the
//! announcing proposer's own vote the same way. So a decision whose value lacks exactly
//! one vote of a majority (at its best ballot) is kept *pending*: cleared when the majority
//! shows up, a violation if it never does by the end of a complete history (that vote must
//! still be sent). A decision that lacks more than one vote is reported at once. Pending
//! decisions survive the instance's retirement (a node paused between learning and sending
//! its own `accepted` may send it much later); in a truncated or interrupted history they
//! are not judged, and a warning says how many were left.
//!
//! Kept for later: the pending decisions, in the compact record (empty in a correct run).

use super::chosen::{has_majority, votes, Quorum, SHOW_VOTES};
use super::{agreement, Anomalies, Found, Rule};
use crate::instance::{Decision, Instance, Ref};
use crate::trace::{show_value, ValueId};

/// The most acceptors that sent `accepted` for `value` at one ballot.
fn best_count(inst: &Instance, value: ValueId, q: &Quorum) -> usize {
    inst.ballots.iter().filter(|e| e.value == value).map(|e| q.count(&e.votes)).max().unwrap_or(0)
}

/// A learn or ok. `traced`: the history is known to carry message events, so a decision
/// more than one vote short of a majority is reported now (otherwise it is held until the
/// end, when it is known whether messages were traced). Returns whether it left a new
/// pending decision.
pub(crate) fn on_decision(
    id: u64,
    inst: &mut Instance,
    d: Decision,
    quorum: Option<&Quorum>,
    traced: bool,
    anomalies: &mut Anomalies,
) -> bool {
    let Some(q) = quorum else { return false };
    let missing = q.size.saturating_sub(best_count(inst, d.value, q));
    if missing == 0 {
        return false;
    }
    if traced && missing > 1 {
        report(id, inst, d, d.at, q, "by then", anomalies);
        return false;
    }
    if inst.pending.iter().any(|p| p.value == d.value) {
        return false;
    }
    inst.pending.push(d);
    true
}

/// A vote was recorded for `value`: pending decisions of that value may now be backed.
pub(crate) fn on_accepted(inst: &mut Instance, value: ValueId, quorum: Option<&Quorum>) {
    let Some(q) = quorum else { return };
    if inst.pending.iter().any(|p| p.value == value) && has_majority(inst, value, q) {
        inst.pending.retain(|p| p.value != value);
    }
}

/// The complete history ended: what is still pending was learned without being chosen.
pub(crate) fn judge(id: u64, inst: &mut Instance, at: Ref, q: &Quorum, anomalies: &mut Anomalies) {
    let pending = std::mem::take(&mut inst.pending);
    let Some(d) = pending.iter().copied().find(|d| !has_majority(inst, d.value, q)) else { return };
    report(id, inst, d, at, q, "by the end of the history", anomalies);
}

fn report(
    id: u64,
    inst: &mut Instance,
    d: Decision,
    at: Ref,
    q: &Quorum,
    when: &str,
    anomalies: &mut Anomalies,
) {
    anomalies.report(Rule::LearnedOnlyIfChosen, id, inst, at, |inst| {
        let mut events = vec![inst.evidence(d.at, || agreement::describe(inst, &d))];
        // The ballot where the value came closest to a majority, and its voters.
        let best = inst.ballots.iter().filter(|e| e.value == d.value).max_by_key(|e| q.count(&e.votes));
        let any_vote = inst.ballots.iter().any(|e| !e.votes.is_empty());
        let closest = match best {
            Some(e) if q.count(&e.votes) > 0 => {
                for other in inst.ballots.iter().filter(|o| o.value == d.value && !o.votes.is_empty()) {
                    events.extend(votes(inst, other.ballot, other.value).into_iter().take(SHOW_VOTES));
                }
                format!("at most {} acceptor(s) at one ballot ({})", q.count(&e.votes), e.ballot)
            }
            _ if any_vote => "no acceptor had sent `accepted` for it".to_string(),
            _ => "the instance had no `accepted` at all".to_string(),
        };
        Found {
            message: format!(
                "{} {} at line {}, but no majority ({} of {} acceptors) had sent `accepted` for {} at one ballot {when}: {closest}",
                agreement::kind_name(d.kind),
                show_value(&inst.values, d.value),
                d.at.line,
                q.size,
                q.acceptors.len(),
                show_value(&inst.values, d.value),
            ),
            events,
        }
    });
}
