//! `agreement`: per instance, every `learn` and every `ok` carries the same value. This
//! covers one node across its restarts too (a node that re-learns after a restart must
//! re-learn the same value), since all decisions of an instance are compared with its first.
//!
//! Kept for later: the first decision (value id, line, node) in the compact record, so a
//! late learn is still judged after the instance is retired.

use super::{Anomalies, Found, Rule};
use crate::instance::{Decision, DecisionKind, Instance, Ref};
use crate::trace::{show_value, ValueId};

pub(crate) fn kind_name(kind: DecisionKind) -> &'static str {
    match kind {
        DecisionKind::Learn => "learn",
        DecisionKind::Ok => "ok",
    }
}

pub(crate) fn describe(inst: &Instance, d: &Decision) -> String {
    let node = d.node.map_or_else(|| "?".into(), |n| format!("n{n}"));
    format!("{} at {node} value {}", kind_name(d.kind), show_value(&inst.values, d.value))
}

pub(crate) fn on_decision(id: u64, inst: &mut Instance, now: Decision, anomalies: &mut Anomalies) {
    let first = match inst.decided {
        None => {
            inst.decided = Some(now);
            return;
        }
        Some(first) if first.value == now.value => return,
        Some(first) => first,
    };
    anomalies.report(Rule::Agreement, id, inst, now.at, |inst| Found {
        message: format!(
            "{} carries {} but line {} ({}) carried {}",
            kind_name(now.kind),
            show_value(&inst.values, now.value),
            first.at.line,
            kind_name(first.kind),
            show_value(&inst.values, first.value),
        ),
        events: vec![
            inst.evidence(first.at, || describe(inst, &first)),
            inst.evidence(now.at, || describe(inst, &now)),
        ],
    });
}

/// Convenience for callers: a decision at `at`.
pub(crate) fn decision(value: ValueId, at: Ref, node: Option<u64>, kind: DecisionKind) -> Decision {
    Decision { value, at, node, kind }
}
