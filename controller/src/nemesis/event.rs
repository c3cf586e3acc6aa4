//! A recorded `nemesis` event back to the [`Action`] it records: the inverse of writing an
//! action into the history, for a replay (`--replay`, [`super::file::schedule_from_history`]).
//!
//! The schema's [`Nemesis`] holds the action's name, its `nodes` and every other field in
//! `params`, exactly as an [`Action`] serializes; the action is rebuilt by putting those
//! back into one object and deserializing it, so the rules (names, fields, defaults, unknown
//! fields refused) are the ones a schedule file is read with.

use super::Action;
use serde_json::{Map, Value};
use synod_checker::history::Nemesis;

/// The action a `nemesis` event records. Fields that are not the action's (the record's
/// `trigger`, `targets`, `final`, ...) are refused, as in a schedule file: a caller that
/// expects them takes them out of `params` first.
pub fn action_of(event: &Nemesis<'_>) -> Result<Action, String> {
    let mut obj: Map<String, Value> = event.params.clone();
    obj.insert("action".into(), Value::from(event.action.as_ref()));
    if let Some(nodes) = &event.nodes {
        obj.insert("nodes".into(), Value::from(nodes.clone()));
    }
    serde_json::from_value(Value::Object(obj)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::faults::DelayDist;
    use std::borrow::Cow;
    use synod_checker::history::{parse_line, Event};

    fn nemesis(line: &str) -> Nemesis<'_> {
        match parse_line(line.as_bytes()).unwrap() {
            Event::Nemesis(n) => n,
            other => panic!("not a nemesis event: {other:?}"),
        }
    }

    #[test]
    fn recorded_events_give_back_their_actions() {
        let cases = [
            (r#"{"type":"nemesis","t":1,"action":"kill","nodes":[2,3]}"#, Action::Kill { nodes: vec![2, 3] }),
            (r#"{"type":"nemesis","t":1,"action":"heal"}"#, Action::Heal),
            (r#"{"type":"nemesis","t":1,"action":"kill-all"}"#, Action::KillAll { nodes: vec![] }),
            (
                r#"{"type":"nemesis","t":1,"action":"delay","dist":"uniform","mean_ms":3.5}"#,
                Action::Delay { dist: DelayDist::Uniform, mean_ms: 3.5 },
            ),
            (
                r#"{"type":"nemesis","t":1,"action":"partition","shape":"isolate","components":[[3],[1,2]],"cut":[]}"#,
                Action::Partition {
                    shape: Some("isolate".into()),
                    components: vec![vec![3], vec![1, 2]],
                    cut: vec![],
                },
            ),
            (
                r#"{"type":"nemesis","t":1,"action":"power-loss","nodes":[1],"torn":true}"#,
                Action::PowerLoss { nodes: vec![1], torn: true },
            ),
        ];
        for (line, want) in cases {
            assert_eq!(action_of(&nemesis(line)), Ok(want), "{line}");
        }
    }

    /// Every action, written as the run records it (its serialization), reads back the same.
    #[test]
    fn every_action_round_trips_through_an_event() {
        let all = [
            Action::Loss { p: 0.2 },
            Action::Reorder { p: 0.3, max_ms: 40.0 },
            Action::Partition { shape: None, components: vec![], cut: vec![[1, 2]] },
            Action::Restart { nodes: vec![2] },
            Action::PowerLossAll { nodes: vec![1, 2, 3], torn: false },
            Action::CrashPoint { msg: "accept".into(), p: 0.05, down_ms: 200.0 },
            Action::HoldOff { nodes: vec![3] },
            Action::HealAll,
        ];
        for a in all {
            let Ok(Value::Object(mut fields)) = serde_json::to_value(&a) else { panic!("{a:?}") };
            let action = fields.remove("action").unwrap().as_str().unwrap().to_string();
            let nodes = fields.remove("nodes").map(|v| serde_json::from_value(v).unwrap());
            let event = Nemesis { t: 5, action: Cow::Owned(action), nodes, params: fields };
            assert_eq!(action_of(&event), Ok(a));
        }
    }

    #[test]
    fn what_is_not_an_action_is_refused_with_the_reason() {
        let e = action_of(&nemesis(r#"{"type":"nemesis","t":1,"action":"explode"}"#)).unwrap_err();
        assert!(e.starts_with("unknown variant `explode`"), "{e}");
        let e =
            action_of(&nemesis(r#"{"type":"nemesis","t":1,"action":"kill","nodes":[1],"trigger":"accept"}"#))
                .unwrap_err();
        assert!(e.starts_with("unknown field `trigger`"), "{e}");
        let e = action_of(&nemesis(r#"{"type":"nemesis","t":1,"action":"loss"}"#)).unwrap_err();
        assert!(e.starts_with("missing field `p`"), "{e}");
    }
}
