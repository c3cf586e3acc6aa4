//! `truthful-promise`: a `promise` reports the acceptor's vote as it was. A promise
//! `{ballot: B, accepted: {ballot: b, value: v}}` from node n is a violation when
//!
//! - b is above B (an acceptor cannot have accepted above what it now promises);
//! - n itself sent `accepted` at b, but never with v (it misreports its own vote);
//! - `accept`/`accepted` messages at b were seen, and none carried v (nobody proposed v at
//!   b: the reported vote cannot have happened).
//!
//! - no `accept` at b was ever sent (in a history that traces every message: the header
//!   does not say `trace: "ops"`). Every `accept` passes through the controller and is
//!   recorded as `send` before delivery, even when it is then dropped; a frame a crashed
//!   proposer wrote after its crash point is recorded as `discarded` and never delivered.
//!   So an acceptor cannot have accepted at a ballot no proposer sent.
//!
//! A reported vote with no `accepted` of n's at b behind it is fine: the acceptor may have
//! persisted the vote and crashed before sending `accepted`. A promise that reports a
//! *lower* accepted ballot than n accepted before (or none) is judged by
//! acceptor-monotonicity, since it is forgetting, not misreporting.
//!
//! A misreported vote breaks the proposer's choice of value whether or not a second value
//! ends up chosen, so it is reported on its own. Kept for later: nothing of its own; it
//! reads the (ballot, value) pairs and their voters of the compact record, so a late
//! promise is judged after retirement too.

use super::{Anomalies, Found, Rule};
use crate::ballot::Ballot;
use crate::instance::{Instance, Ref};
use crate::trace::{show_value, ValueId};

/// `node` sent `promise {ballot, accepted: (reported, value)}`. `all_sends_traced`: the
/// history records every message from its start.
#[allow(clippy::too_many_arguments)]
pub(crate) fn on_promise(
    id: u64,
    inst: &mut Instance,
    node: u64,
    ballot: Ballot,
    (reported, value): (Ballot, ValueId),
    all_sends_traced: bool,
    at: Ref,
    anomalies: &mut Anomalies,
) {
    let shown = |inst: &Instance| show_value(&inst.values, value);
    let promise_text = move |inst: &Instance| {
        format!("n{node} promise {ballot} reporting accepted {reported} value {}", shown(inst))
    };
    if reported > ballot {
        anomalies.report(Rule::TruthfulPromise, id, inst, at, |inst| Found {
            message: format!(
                "n{node} promised {ballot} reporting a vote at {reported}, above the promise's own ballot"
            ),
            events: vec![inst.evidence(at, || promise_text(inst))],
        });
        return;
    }
    let entries = inst.ballot_range(reported);
    if entries.is_empty() && all_sends_traced {
        anomalies.report(Rule::TruthfulPromise, id, inst, at, |inst| Found {
            message: format!(
                "n{node} promised {ballot} reporting accepted {reported} value {}, but no `accept` at {reported} was ever sent",
                shown(inst)
            ),
            events: vec![inst.evidence(at, || promise_text(inst))],
        });
        return;
    }
    let own: Vec<(ValueId, Ref)> = entries
        .iter()
        .filter_map(|e| e.votes.iter().find(|(n, _)| *n == node).map(|(_, vote_at)| (e.value, *vote_at)))
        .collect();
    let carried = entries.iter().any(|e| e.value == value);
    let other_value = entries.first().map(|e| (e.value, e.first));
    if !own.is_empty() && !own.iter().any(|(v, _)| *v == value) {
        let (sent, sent_at) = own[0];
        anomalies.report(Rule::TruthfulPromise, id, inst, at, |inst| Found {
            message: format!(
                "n{node} promised {ballot} reporting accepted {reported} value {}, but at line {} it sent accepted {reported} value {}",
                shown(inst),
                sent_at.line,
                show_value(&inst.values, sent)
            ),
            events: vec![
                inst.evidence(sent_at, || {
                    format!("n{node} accepted {reported} value {}", show_value(&inst.values, sent))
                }),
                inst.evidence(at, || promise_text(inst)),
            ],
        });
        return;
    }
    let Some((other, first)) = other_value.filter(|_| !carried) else { return };
    anomalies.report(Rule::TruthfulPromise, id, inst, at, |inst| Found {
        message: format!(
            "n{node} promised {ballot} reporting accepted {reported} value {}, but messages at {reported} carried only {} (first at line {})",
            shown(inst),
            show_value(&inst.values, other),
            first.line
        ),
        events: vec![
            inst.evidence(first, || format!("ballot {reported} value {}", show_value(&inst.values, other))),
            inst.evidence(at, || promise_text(inst)),
        ],
    });
}
