//! `validity`: a value that is learned (or returned by `ok`) was invoked for that instance
//! before that line.
//!
//! Needs the instance's invoked values, which live in the evictable part: a retired
//! instance's late decisions are not judged here again (a late decision with another value
//! is an `agreement` violation; one with the decided value was judged when first seen).

use super::{Anomalies, Found, Rule};
use crate::instance::{Decision, Instance};
use crate::trace::show_value;

/// At most this many earlier invokes are listed as evidence.
const SHOW_INVOKES: usize = 5;

pub(crate) fn on_decision(id: u64, inst: &mut Instance, now: Decision, anomalies: &mut Anomalies) {
    let Some(live) = &inst.live else { return };
    if live.invoked.iter().any(|(v, _)| *v == now.value) {
        return;
    }
    anomalies.report(Rule::Validity, id, inst, now.at, |inst| {
        let mut events = vec![inst.evidence(now.at, || super::agreement::describe(inst, &now))];
        let invoked = inst.live.as_ref().map_or(&[][..], |l| &l.invoked[..]);
        for (v, at) in invoked.iter().take(SHOW_INVOKES) {
            events.push(inst.evidence(*at, || format!("invoke value {}", show_value(&inst.values, *v))));
        }
        let invoked_text = if invoked.is_empty() {
            "nothing was invoked for it before".to_string()
        } else {
            format!("only {} value(s) were invoked before", invoked.len())
        };
        Found {
            message: format!(
                "{} {} was never invoked for instance {id}: {invoked_text}",
                super::agreement::kind_name(now.kind),
                show_value(&inst.values, now.value),
            ),
            events,
        }
    });
}
