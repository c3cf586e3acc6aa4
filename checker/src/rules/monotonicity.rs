//! `acceptor-monotonicity`: an acceptor never sends a `promise` or an `accepted` for a
//! ballot below one it promised or accepted earlier in that instance, across its restarts
//! (a `nack` is the right answer there). Also, a `promise` must not report a lower
//! accepted ballot (or none) than the acceptor accepted earlier: that acceptor forgot what
//! it accepted. And a `nack` must not show a `promised` ballot below one the acceptor
//! promised or accepted earlier: amnesia in plain view. A vote reported inside a promise
//! counts toward the acceptor's history like an `accepted` it sent. (Whether the reported
//! vote is *true* is truthful-promise's business.)
//!
//! A nack's `promised` does not itself raise the acceptor's history: a nack that claims
//! too high a promise only slows proposers down, and counting it would blame the
//! acceptor's later, correct messages.
//!
//! Judged from `send` events, i.e. what the acceptor emitted, delivered or not. Kept for
//! later: per acceptor of the instance, its highest promised-or-accepted ballot and its
//! highest accepted ballot (a few words each), in the compact record, because a restarted
//! acceptor that lost its state can answer a lagging proposer long after the decision.

use super::{Anomalies, Found, Rule};
use crate::ballot::Ballot;
use crate::instance::{AcceptorState, Instance, Ref};

fn state(inst: &mut Instance, node: u64, ballot: Ballot, at: Ref) -> Option<AcceptorState> {
    match inst.acceptor(node) {
        Some(st) => Some(*st),
        None => {
            inst.acceptors.push(AcceptorState { node, max: ballot, max_at: at, max_accepted: None });
            None
        }
    }
}

fn raise(inst: &mut Instance, node: u64, ballot: Ballot, accepted: Option<Ballot>, at: Ref) {
    if let Some(st) = inst.acceptor(node) {
        let top = accepted.map_or(ballot, |b| b.max(ballot));
        if top > st.max {
            st.max = top;
            st.max_at = at;
        }
        if let Some(b) = accepted {
            if st.max_accepted.is_none_or(|(old, _)| b > old) {
                st.max_accepted = Some((b, at));
            }
        }
    }
}

/// `node` sent `promise {ballot, accepted: reported}`.
pub(crate) fn on_promise(
    id: u64,
    inst: &mut Instance,
    node: u64,
    ballot: Ballot,
    reported: Option<Ballot>,
    at: Ref,
    anomalies: &mut Anomalies,
) {
    if let Some(st) = state(inst, node, ballot, at) {
        if ballot < st.max {
            forgot(id, inst, &st, below("promised", ballot), at, anomalies);
        } else if let Some((acc, acc_at)) = st.max_accepted {
            if reported.is_none_or(|r| r < acc) {
                let shown = reported.map_or_else(|| "none".to_string(), |r| r.to_string());
                anomalies.report(Rule::AcceptorMonotonicity, id, inst, at, |inst| Found {
                    message: format!(
                        "n{node} promised {ballot} reporting accepted {shown}, but it had accepted {acc} at line {}",
                        acc_at.line
                    ),
                    events: vec![
                        inst.evidence(acc_at, || format!("n{node} accepted {acc}")),
                        inst.evidence(at, || format!("n{node} promise {ballot} accepted {shown}")),
                    ],
                });
            }
        }
    }
    raise(inst, node, ballot, reported, at);
}

/// `node` sent `nack {ballot, promised}`: `promised` must not be below what it promised or
/// accepted before. A node with no history in this instance is not judged.
pub(crate) fn on_nack(
    id: u64,
    inst: &mut Instance,
    node: u64,
    ballot: Ballot,
    promised: Ballot,
    at: Ref,
    anomalies: &mut Anomalies,
) {
    let Some(st) = inst.acceptor(node).copied() else { return };
    if promised < st.max {
        let said = format!("nacked {ballot} showing promised {promised}, but it");
        forgot(id, inst, &st, (said, format!("nack {ballot} promised {promised}")), at, anomalies);
    }
}

/// `node` sent `accepted {ballot, ..}`.
pub(crate) fn on_accepted(
    id: u64,
    inst: &mut Instance,
    node: u64,
    ballot: Ballot,
    at: Ref,
    anomalies: &mut Anomalies,
) {
    if let Some(st) = state(inst, node, ballot, at) {
        if ballot < st.max {
            forgot(id, inst, &st, below("accepted", ballot), at, anomalies);
        }
    }
    raise(inst, node, ballot, Some(ballot), at);
}

/// Reports that an acceptor acted below `st.max`, its earlier high: the message reads
/// "n{node} {said} had promised or accepted {max} at line L"; the evidence is that earlier
/// high and `sent` (what the node sent at `at`). The shape of every monotonicity finding
/// but the forgetful promise.
fn forgot(
    id: u64,
    inst: &mut Instance,
    st: &AcceptorState,
    (said, sent): (String, String),
    at: Ref,
    a: &mut Anomalies,
) {
    let (node, max, max_at) = (st.node, st.max, st.max_at);
    a.report(Rule::AcceptorMonotonicity, id, inst, at, |inst| Found {
        message: format!("n{node} {said} had promised or accepted {max} at line {}", max_at.line),
        events: vec![
            inst.evidence(max_at, || format!("n{node} promised or accepted {max}")),
            inst.evidence(at, || format!("n{node} {sent}")),
        ],
    });
}

/// A `promise`/`accepted` for `ballot`, below what the node promised or accepted before.
fn below(what: &str, ballot: Ballot) -> (String, String) {
    (format!("{what} {ballot} after it"), format!("{what} {ballot}"))
}
