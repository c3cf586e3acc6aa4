//! `acceptor-monotonicity`: an acceptor never sends a `promise` or an `accepted` for a
//! ballot below one it promised or accepted earlier in that instance, across its restarts
//! (a `nack` is the right answer there, and is fine). Also, a `promise` must not report a
//! lower accepted ballot (or none) than the acceptor accepted earlier: that acceptor forgot
//! what it accepted.
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
        if ballot > st.max {
            st.max = ballot;
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
            below(id, inst, node, "promised", ballot, &st, at, anomalies);
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
            below(id, inst, node, "accepted", ballot, &st, at, anomalies);
        }
    }
    raise(inst, node, ballot, Some(ballot), at);
}

#[allow(clippy::too_many_arguments)]
fn below(
    id: u64,
    inst: &mut Instance,
    node: u64,
    what: &str,
    ballot: Ballot,
    st: &AcceptorState,
    at: Ref,
    anomalies: &mut Anomalies,
) {
    let (max, max_at) = (st.max, st.max_at);
    anomalies.report(Rule::AcceptorMonotonicity, id, inst, at, |inst| Found {
        message: format!(
            "n{node} {what} {ballot} after it had promised or accepted {max} at line {}",
            max_at.line
        ),
        events: vec![
            inst.evidence(max_at, || format!("n{node} promised or accepted {max}")),
            inst.evidence(at, || format!("n{node} {what} {ballot}")),
        ],
    });
}
