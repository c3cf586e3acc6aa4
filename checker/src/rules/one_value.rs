//! `one-value-per-ballot`: within an instance, no two `accept`/`accepted` messages of one
//! ballot carry different values. (Two proposers sharing a ballot, or a proposer reusing a
//! ballot after a restart, show up here.)
//!
//! Kept for later: the sorted (ballot, value) list of the compact record, so late messages
//! are judged after retirement too.

use super::{Anomalies, Found, Rule};
use crate::ballot::Ballot;
use crate::instance::{Instance, Ref};
use crate::trace::{show_value, ValueId};

/// Checks and records that `ballot` carried `value` at `at` (an accept or accepted).
pub(crate) fn on_value(
    id: u64,
    inst: &mut Instance,
    ballot: Ballot,
    value: ValueId,
    at: Ref,
    anomalies: &mut Anomalies,
) {
    let conflict = inst.ballot_range(ballot).iter().find(|e| e.value != value).map(|e| (e.value, e.first));
    inst.ballot_entry(ballot, value, at);
    let Some((other, first)) = conflict else { return };
    anomalies.report(Rule::OneValuePerBallot, id, inst, at, |inst| Found {
        message: format!(
            "ballot {ballot} carries {} here but carried {} at line {}",
            show_value(&inst.values, value),
            show_value(&inst.values, other),
            first.line
        ),
        events: vec![
            inst.evidence(first, || format!("ballot {ballot} value {}", show_value(&inst.values, other))),
            inst.evidence(at, || format!("ballot {ballot} value {}", show_value(&inst.values, value))),
        ],
    });
}
