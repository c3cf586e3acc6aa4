//! The one place where an [`Action`] meets its JSON form: the history's `nemesis` event
//! (written by a run, read back by a replay) and the object a schedule file's line holds.
//!
//! An action serializes to one object: its name in `action`, its fields beside it. The
//! history schema's [`Nemesis`] keeps the name and `nodes` apart and every other field in
//! `params`; a schedule line adds `at_s` or `on` (see [`super::file`]). Reading always goes
//! through the action's own deserializer, so the rules (names, fields, defaults, unknown
//! fields refused) are the same wherever an action comes from. The extra fields a run records
//! beside an action (`targets`, `trigger`, `msg`, `final`, `resumed`, `restarted`) are
//! written and read here too, so that the rest of the controller sees actions and events only
//! as types, never as untyped JSON.

use super::Action;
use serde_json::{Map, Value};
use std::borrow::Cow;
use synod_checker::history::Nemesis;
use synod_node::paxos::NodeId;

/// An action as one JSON object: its fields plus its name in `action`.
pub type Fields = Map<String, Value>;

/// The action's serialization as an object (the fields of a schedule line, `at_s`/`on` apart).
pub fn fields_of(action: &Action) -> Fields {
    match serde_json::to_value(action) {
        Ok(Value::Object(fields)) => fields,
        other => unreachable!("an action serializes to a JSON object, not {other:?}"),
    }
}

/// The action these fields describe, as a schedule file reads it: an unknown name, a missing
/// field or one the action does not have is an error saying so.
pub fn action_from(fields: Fields) -> Result<Action, String> {
    serde_json::from_value(Value::Object(fields)).map_err(|e| e.to_string())
}

fn ids(nodes: &[NodeId]) -> Value {
    Value::from(nodes.iter().map(|&n| u64::from(n)).collect::<Vec<u64>>())
}

impl Action {
    /// The history's `nemesis` event for this action at `t`: the action's serialization, its
    /// `action` and `nodes` taken out, every other field in `params` as a schedule file
    /// writes it. `targets` are the nodes the schedule named, when the action (a kill,
    /// restart, stop or cont) acted on fewer: they are recorded as `targets` if they differ
    /// from `nodes`, so that a replay asks for what the schedule asked for.
    pub fn to_event(&self, t: u64, targets: Option<&[NodeId]>) -> Nemesis<'static> {
        let mut params = fields_of(self);
        let Some(Value::String(action)) = params.remove("action") else {
            unreachable!("an action's serialization names it in `action`")
        };
        let nodes = params.remove("nodes").map(|v| {
            serde_json::from_value::<Vec<u64>>(v).expect("an action's `nodes` is a list of node ids")
        });
        if let Some(targets) = targets {
            let targets: Vec<u64> = targets.iter().map(|&n| u64::from(n)).collect();
            if nodes.as_ref() != Some(&targets) {
                params.insert("targets".into(), Value::from(targets));
            }
        }
        Nemesis { t, action: Cow::Owned(action), nodes, params }
    }
}

/// The final phase's `heal-all` at `t`, marked `"final": true` (a replay leaves it out: it has
/// its own), with the nodes it `resumed` (paused) and `restarted` (down or dying).
pub fn final_heal_all(t: u64, resumed: &[NodeId], restarted: &[NodeId]) -> Nemesis<'static> {
    let mut event = Action::HealAll.to_event(t, None);
    event.params.insert("final".into(), true.into());
    event.params.insert("resumed".into(), ids(resumed));
    event.params.insert("restarted".into(), ids(restarted));
    event
}

/// A `drop-message` at `t`: the schedule dropped the message `msg_id` as it was sent.
pub fn dropped_message(t: u64, msg_id: u64) -> Nemesis<'static> {
    let mut event = Action::DropMessage.to_event(t, None);
    event.params.insert("msg".into(), msg_id.into());
    event
}

/// A crash point's kill at `t`: `node` died right after sending a `trigger` message.
pub fn crash_point_kill(t: u64, node: NodeId, trigger: &str) -> Nemesis<'static> {
    let mut event = Action::Kill { nodes: vec![node] }.to_event(t, None);
    event.params.insert("trigger".into(), trigger.into());
    event
}

/// The action a `nemesis` event records. Fields that are not the action's (the record's
/// `trigger`, `targets`, `final`, ...) are refused, as in a schedule file: a caller that
/// expects them takes them out of `params` first (as [`scheduled_action`] does).
pub fn action_of(event: &Nemesis<'_>) -> Result<Action, String> {
    let mut fields = event.params.clone();
    fields.insert("action".into(), Value::from(event.action.as_ref()));
    if let Some(nodes) = &event.nodes {
        fields.insert("nodes".into(), Value::from(nodes.clone()));
    }
    action_from(fields)
}

/// What a replay asks for when it meets this event: the action as the run's schedule asked
/// for it. The schedule's `targets` stand for `nodes` (the replay acts on whom it finds in
/// the state for it, as the run did); a crash point's `trigger` is dropped (its kills and
/// restarts are replayed as they happened).
pub fn scheduled_action(mut event: Nemesis<'_>) -> Result<Action, String> {
    event.params.remove("trigger");
    if let Some(targets) = event.params.remove("targets") {
        let targets = serde_json::from_value(targets).map_err(|e| format!("`targets`: {e}"))?;
        event.nodes = Some(targets);
    }
    action_of(&event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::faults::DelayDist;
    use serde_json::json;
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

    /// The event holds the action's fields, `action` and `nodes` apart, and reads back as the
    /// same action; `targets` is there only when they differ from `nodes`.
    #[test]
    fn an_action_becomes_a_nemesis_event_and_back() {
        let part = Action::Partition {
            shape: Some("isolate".into()),
            components: vec![vec![1], vec![2, 3]],
            cut: vec![],
        };
        let ev = part.to_event(7, None);
        assert_eq!((ev.t, ev.action.as_ref(), ev.nodes.as_ref()), (7, "partition", None));
        assert_eq!(
            Value::Object(ev.params.clone()),
            json!({"shape": "isolate", "components": [[1], [2, 3]], "cut": []})
        );
        let kill = Action::Kill { nodes: vec![2] };
        let ev = kill.to_event(9, Some(&[2, 3]));
        assert_eq!((ev.action.as_ref(), ev.nodes.as_deref()), ("kill", Some(&[2u64][..])));
        assert_eq!(ev.params.get("targets"), Some(&json!([2, 3])));
        assert!(!kill.to_event(9, Some(&[2])).params.contains_key("targets"));
        // The line reads back through the schema's parser, and its fields are the action's.
        let line = Event::Nemesis(part.to_event(7, None)).to_json();
        assert!(line.starts_with(r#"{"type":"nemesis","t":7,"action":"partition","#), "{line}");
        assert_eq!(action_of(&nemesis(&line)), Ok(part));
    }

    /// Every action, written as the run records it, reads back the same: from the event, and
    /// from the history line the event becomes.
    #[test]
    fn every_action_round_trips_through_an_event() {
        let all = [
            Action::Loss { p: 0.2 },
            Action::LossOff,
            Action::Delay { dist: DelayDist::Uniform, mean_ms: 3.0 },
            Action::DelayOff,
            Action::Duplicate { p: 0.1 },
            Action::DuplicateOff,
            Action::Reorder { p: 0.3, max_ms: 40.0 },
            Action::ReorderOff,
            Action::Partition { shape: None, components: vec![], cut: vec![[1, 2]] },
            Action::Heal,
            Action::Kill { nodes: vec![2] },
            Action::Restart { nodes: vec![2] },
            Action::Stop { nodes: vec![3] },
            Action::Cont { nodes: vec![3] },
            Action::KillAll { nodes: vec![1, 2, 3] },
            Action::PowerLoss { nodes: vec![2], torn: true },
            Action::PowerLossAll { nodes: vec![1, 2, 3], torn: false },
            Action::HealAll,
            Action::CrashPoint { msg: "accept".into(), p: 0.05, down_ms: 200.0 },
            Action::CrashPointOff,
            Action::Hold { nodes: vec![3] },
            Action::HoldOff { nodes: vec![3] },
            Action::DropMessage,
        ];
        for a in all {
            let event = a.to_event(5, None);
            assert_eq!(action_of(&event), Ok(a.clone()));
            let line = Event::Nemesis(event).to_json();
            assert_eq!(action_of(&nemesis(&line)), Ok(a.clone()), "{line}");
            assert_eq!(action_from(fields_of(&a)), Ok(a));
        }
    }

    /// The events a run records beside the schedule's actions, byte for byte as the history
    /// has them, and what a replay makes of them.
    #[test]
    fn a_runs_own_events_are_written_as_the_history_has_them() {
        let line = |e: Nemesis<'static>| Event::Nemesis(e).to_json();
        let heal = final_heal_all(20, &[1, 2], &[3]);
        assert!(heal.flag("final"));
        assert_eq!(
            line(heal),
            r#"{"type":"nemesis","t":20,"action":"heal-all","final":true,"restarted":[3],"resumed":[1,2]}"#
        );
        assert_eq!(
            line(final_heal_all(21, &[], &[])),
            r#"{"type":"nemesis","t":21,"action":"heal-all","final":true,"restarted":[],"resumed":[]}"#
        );
        assert_eq!(
            line(dropped_message(8, 41)),
            r#"{"type":"nemesis","t":8,"action":"drop-message","msg":41}"#
        );
        let kill = crash_point_kill(9, 2, "accept");
        assert_eq!(
            line(kill.clone()),
            r#"{"type":"nemesis","t":9,"action":"kill","nodes":[2],"trigger":"accept"}"#
        );
        // A replay kills the same node again, without the trigger.
        assert_eq!(scheduled_action(kill), Ok(Action::Kill { nodes: vec![2] }));
    }

    /// A replay asks for the schedule's `targets`, not the nodes the run found to act on.
    #[test]
    fn a_replay_asks_for_the_schedules_targets() {
        let found_up = nemesis(r#"{"type":"nemesis","t":9,"action":"restart","nodes":[],"targets":[4]}"#);
        assert_eq!(scheduled_action(found_up), Ok(Action::Restart { nodes: vec![4] }));
        let written = Action::Stop { nodes: vec![1] }.to_event(3, Some(&[1, 2]));
        assert_eq!(scheduled_action(written), Ok(Action::Stop { nodes: vec![1, 2] }));
        let bad = nemesis(r#"{"type":"nemesis","t":9,"action":"restart","nodes":[],"targets":"n1"}"#);
        let e = scheduled_action(bad).unwrap_err();
        assert!(e.starts_with("`targets`: invalid type"), "{e}");
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
