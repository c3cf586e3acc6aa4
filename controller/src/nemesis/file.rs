//! Schedules from files: a scripted schedule (`--schedule FILE`) and the actions of a
//! recorded run (`--replay RUN`).
//!
//! A schedule file is JSON Lines: one action a line, `at_s` (seconds after the workload
//! starts) plus the fields of the action as they appear in the history's `nemesis` events.
//! Blank lines and lines starting with `#` are skipped. See docs/nemesis.md.
//!
//! A line is read as one JSON object: `at_s` or `on` taken out, the rest is the action's
//! fields, converted by [`super::event`] as a history's events are. `at_s` stays untyped
//! until it is checked, so that an error can show what the line holds.
//!
//! ```text
//! # isolate n3 for two seconds, then kill n1 and bring it back
//! {"at_s": 1.0, "action": "partition", "shape": "isolate", "components": [[3], [1, 2, 4, 5]]}
//! {"at_s": 3.0, "action": "heal"}
//! {"at_s": 4.0, "action": "kill", "nodes": [1]}
//! {"at_s": 5.5, "action": "restart", "nodes": [1]}
//! ```

use super::event::{action_from, fields_of, scheduled_action, Fields};
use super::{Action, MatchPoint, MessageMatch, Schedule, Timed, Trigger};
use crate::limits;
use serde_json::Value;
use std::borrow::Cow;
use std::path::Path;
use synod_checker::history::{Event, Events, Nemesis};

/// The planned schedule in a run folder, in the file format (edit it and pass it to
/// `--schedule` to rerun a variation).
pub const SCHEDULE_FILE: &str = "schedule.jsonl";

/// Parses a schedule file's text; errors name the file and line.
pub fn parse_schedule(text: &str, name: &str, nodes: u32) -> Result<Schedule, String> {
    let mut out = Schedule::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |e: String| format!("{name}:{}: {e}", i + 1);
        if out.timed.len() + out.triggers.len() >= limits::MAX_SCHEDULE_ACTIONS {
            return Err(at(format!("more than {} actions in one schedule", limits::MAX_SCHEDULE_ACTIONS)));
        }
        // The action's fields, plus `at_s` or `on`: taken out, the rest is the action.
        let mut obj: Fields = serde_json::from_str(line).map_err(|e| at(e.to_string()))?;
        let at_s = obj.remove("at_s");
        let on = obj.remove("on");
        let action = parse_action(obj, nodes).map_err(at)?;
        match (at_s, on) {
            (Some(_), Some(_)) => return Err(at("give `at_s` or `on`, not both".into())),
            (None, None) => {
                return Err(at(
                    "missing `at_s` (seconds after the workload starts) or `on` (a message)".into()
                ))
            }
            (Some(at_s), None) => {
                let at_s = at_s
                    .as_f64()
                    .filter(|s| limits::seconds(*s, limits::MAX_TIME_S, "7 days").is_ok())
                    .ok_or_else(|| {
                        let shown = at_s.as_f64().map_or_else(|| at_s.to_string(), |v| format!("{v:?}"));
                        at(format!(
                            "`at_s` {shown}: must be a number of seconds from 0 to {} (7 days)",
                            limits::MAX_TIME_S
                        ))
                    })?;
                if action == Action::DropMessage {
                    return Err(at("`drop-message` needs `on`: the message to drop".into()));
                }
                out.timed.push(Timed { at_us: (at_s * 1e6).round() as u64, action });
            }
            (None, Some(on)) => {
                let on: MessageMatch = serde_json::from_value(on).map_err(|e| at(format!("on: {e}")))?;
                if on.nth == 0 {
                    return Err(at("on: `nth` counts from 1".into()));
                }
                if action == Action::DropMessage && on.at == MatchPoint::Delivery {
                    return Err(at(
                        "`drop-message` drops a message when it is sent (`\"at\": \"send\"`)".into()
                    ));
                }
                out.triggers.push(Trigger { on, action });
            }
        }
    }
    // Stable: actions at the same time keep the file's order.
    out.timed.sort_by_key(|t| t.at_us);
    Ok(out)
}

pub fn read_schedule(path: &Path, nodes: u32) -> Result<Schedule, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_schedule(&text, &path.display().to_string(), nodes)
}

fn parse_action(obj: Fields, nodes: u32) -> Result<Action, String> {
    let action = action_from(obj)?;
    action.validate(nodes)?;
    Ok(action)
}

/// Writes a schedule in the file format (the run folder's `schedule.jsonl`).
pub fn render_schedule(schedule: &Schedule) -> String {
    let mut text = String::new();
    let mut line = |key: &str, when: Value, action: &Action| {
        let mut obj = fields_of(action);
        obj.insert(key.into(), when);
        text.push_str(&Value::Object(obj).to_string());
        text.push('\n');
    };
    for t in &schedule.timed {
        line("at_s", Value::from(t.at_us as f64 / 1e6), &t.action);
    }
    for t in &schedule.triggers {
        line("on", serde_json::to_value(&t.on).unwrap_or(Value::Null), &t.action);
    }
    text
}

/// The nemesis actions of a recorded history, timed from the start of its workload (the
/// `phase` event). The final phase's `heal-all` is left out: a replay has its own. Errors
/// name the file and line: a line that is not a valid event, an action that is not one.
pub fn schedule_from_history(mut events: Events, nodes: u32) -> Result<Vec<Timed>, String> {
    let name = events.path().display().to_string();
    let mut workload_start = None;
    let mut out = Vec::new();
    // A truncated history ends in a torn line, which `events` leaves out: the actions before
    // it still count.
    while let Some(ev) = events.next() {
        let nemesis = match ev.map_err(|e| e.to_string())? {
            Event::Phase(p) if p.phase == "workload" => {
                workload_start = Some(p.t);
                continue;
            }
            // Owned (a few per run), so that the reader can say which line it was.
            Event::Nemesis(n) if !n.flag("final") => Nemesis {
                t: n.t,
                action: Cow::Owned(n.action.into_owned()),
                nodes: n.nodes,
                params: n.params,
            },
            _ => continue,
        };
        let at = |e: String| format!("{name}:{}: {e}", events.line());
        let start = workload_start.ok_or_else(|| at("nemesis event before the workload began".into()))?;
        let t = nemesis.t;
        // What the run's schedule asked for; the crash point itself is not replayed (its
        // kills and restarts are, as they happened).
        let action = scheduled_action(nemesis).and_then(|a| a.validate(nodes).map(|()| a)).map_err(at)?;
        let at_us = t.saturating_sub(start);
        if at_us as f64 > limits::MAX_TIME_S * 1e6 {
            return Err(at(format!("`t` {t}: more than 7 days after the workload began")));
        }
        if out.len() >= limits::MAX_SCHEDULE_ACTIONS {
            return Err(at(format!("more than {} nemesis actions", limits::MAX_SCHEDULE_ACTIONS)));
        }
        if !matches!(action, Action::CrashPoint { .. } | Action::CrashPointOff) {
            out.push(Timed { at_us, action });
        }
    }
    if workload_start.is_none() {
        return Err(format!("{name}: no `phase` event marks the start of the workload"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_schedules_parse_sorted_with_comments() {
        let text = [
            "# comment",
            "",
            r#"{"at_s": 2, "action": "heal"}"#,
            r#"{"at_s": 0.5, "action": "partition", "components": [[1], [2, 3]]}"#,
        ]
        .join("\n");
        let s = parse_schedule(&text, "s.jsonl", 3).unwrap().timed;
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].at_us, 500_000);
        assert!(matches!(s[0].action, Action::Partition { .. }));
        assert_eq!(s[1], Timed { at_us: 2_000_000, action: Action::Heal });
    }

    #[test]
    fn bad_lines_are_reported_with_file_and_line() {
        let cases = [
            ("{\"action\": \"heal\"}", "s.jsonl:1: missing `at_s`"),
            ("{\"at_s\": 1, \"action\": \"drop-message\"}", "s.jsonl:1: `drop-message` needs `on`"),
            (
                "{\"on\": {\"type\": \"accept\", \"nth\": 0}, \"action\": \"drop-message\"}",
                "s.jsonl:1: on: `nth`",
            ),
            (
                "{\"on\": {\"type\": \"accept\", \"to\": 2}, \"action\": \"heal\"}",
                "s.jsonl:1: on: unknown field `to`",
            ),
            (
                "{\"at_s\": 1, \"on\": {\"type\": \"accept\"}, \"action\": \"heal\"}",
                "s.jsonl:1: give `at_s` or `on`",
            ),
            ("{\"at_s\": -1, \"action\": \"heal\"}", "s.jsonl:1: `at_s` -1.0: must be a number of seconds"),
            ("{\"at_s\": 1e300, \"action\": \"heal\"}", "s.jsonl:1: `at_s` 1e300: must be"),
            ("{\"at_s\": \"NaN\", \"action\": \"heal\"}", "s.jsonl:1: `at_s` \"NaN\": must be"),
            (
                "{\"at_s\": 1, \"action\": \"crash-point\", \"msg\": \"accept\", \"p\": 0.5, \"down_ms\": 1e300}",
                "s.jsonl:1: down_ms 1e300: must be a number of milliseconds from 0 to 3600000",
            ),
            ("{\"at_s\": 1, \"action\": \"loss\", \"p\": NaN}", "s.jsonl:1: expected value"),
            ("\n{\"at_s\": 1, \"action\": \"explode\"}", "s.jsonl:2: unknown variant `explode`"),
            ("{\"at_s\": 1, \"action\": \"kill\", \"node\": [1]}", "s.jsonl:1: unknown field `node`"),
            ("{\"at_s\": 1, \"action\": \"kill\", \"nodes\": [9]}", "s.jsonl:1: no node 9"),
            ("{\"at_s\": 1,", "s.jsonl:1: EOF"),
        ];
        for (text, want) in cases {
            let e = parse_schedule(text, "s.jsonl", 3).unwrap_err();
            assert!(e.starts_with(want), "{text}: {e}");
        }
    }

    #[test]
    fn rendered_schedules_parse_back() {
        let s = Schedule {
            timed: vec![
                Timed { at_us: 1_250_000, action: Action::Kill { nodes: vec![2] } },
                Timed { at_us: 2_000_000, action: Action::Restart { nodes: vec![2] } },
            ],
            triggers: vec![Trigger {
                on: MessageMatch {
                    kind: "accept".into(),
                    src: Some(1),
                    dest: Some(3),
                    instance: Some(1),
                    nth: 1,
                    at: MatchPoint::Delivery,
                },
                action: Action::Kill { nodes: vec![1] },
            }],
        };
        assert_eq!(parse_schedule(&render_schedule(&s), "x", 3).unwrap(), s);
    }

    /// `schedule_from_history` of `text`, written as the history file `h.jsonl` of a fresh
    /// folder; errors name the file as `h.jsonl`.
    fn replay(text: &str, nodes: u32) -> Result<Vec<Timed>, String> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "synod-replay-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("h.jsonl");
        std::fs::write(&path, text).unwrap();
        let got = schedule_from_history(Events::open(&path).unwrap(), nodes);
        std::fs::remove_dir_all(&dir).unwrap();
        got.map_err(|e| e.replace(&path.display().to_string(), "h.jsonl"))
    }

    #[test]
    fn histories_give_back_their_actions_timed_from_the_workload() {
        let h = r#"{"type":"run","t":0}
{"type":"phase","t":1000,"phase":"workload"}
{"type":"nemesis","t":6000,"action":"stop","nodes":[2]}
{"type":"send","t":6100,"msg":1,"src":1,"dest":2,"body":{"type":"decided_ok","instance":1}}
{"type":"nemesis","t":9000,"action":"cont","nodes":[2]}
{"type":"nemesis","t":9500,"action":"crash-point","msg":"accept","p":0.1,"down_ms":50}
{"type":"nemesis","t":9600,"action":"kill","nodes":[3],"trigger":"accept"}
{"type":"nemesis","t":20000,"action":"heal-all","final":true,"resumed":[],"restarted":[]}
{"type":"nemesis","t":20"#;
        let s = replay(h, 3).unwrap();
        assert_eq!(
            s,
            vec![
                Timed { at_us: 5000, action: Action::Stop { nodes: vec![2] } },
                Timed { at_us: 8000, action: Action::Cont { nodes: vec![2] } },
                Timed { at_us: 8600, action: Action::Kill { nodes: vec![3] } },
            ]
        );
        let far = "{\"type\":\"phase\",\"t\":1,\"phase\":\"workload\"}\n\
                   {\"type\":\"nemesis\",\"t\":18446744073709551615,\"action\":\"heal\"}";
        let e = replay(far, 3).unwrap_err();
        assert!(e.starts_with("h.jsonl:2: `t` 18446744073709551615: more than 7 days"), "{e}");
        let bad = "{\"type\":\"phase\",\"t\":1,\"phase\":\"workload\"}\n\
                   {\"type\":\"nemesis\",\"t\":5,\"action\":\"pause\",\"nodes\":[1]}";
        assert!(replay(bad, 3).unwrap_err().starts_with("h.jsonl:2: unknown variant `pause`"));
        assert!(replay("{\"type\":\"run\",\"t\":0}", 3).unwrap_err().contains("no `phase`"));
        // A restart that found n4 still running acted on nobody; the replay asks for n4 again.
        let found_up = "{\"type\":\"phase\",\"t\":1,\"phase\":\"workload\"}\n\
                        {\"type\":\"nemesis\",\"t\":9,\"action\":\"restart\",\"nodes\":[],\"targets\":[4]}";
        let s = replay(found_up, 5).unwrap();
        assert_eq!(s, vec![Timed { at_us: 8, action: Action::Restart { nodes: vec![4] } }]);
    }

    /// What a replay cannot use is an error naming the line, never an action left out.
    #[test]
    fn unusable_history_lines_are_errors_with_their_line() {
        let start = "{\"type\":\"phase\",\"t\":1,\"phase\":\"workload\"}\n";
        let cases = [
            (
                "{\"type\":\"nemesis\",\"t\":5,\"action\":\"kill\",\"nodes\":[1]}\n",
                3,
                "h.jsonl:1: nemesis event before the workload began",
            ),
            ("{\"type\":\"nemesis\",\"action\":\"heal\"}\n", 3, "h.jsonl:1: `nemesis` event lacks field `t`"),
            (
                "not json\n{\"type\":\"nemesis\",\"t\":5,\"action\":\"heal\"}\n",
                3,
                "h.jsonl:1: not valid JSON",
            ),
            ("{\"type\":\"nemesis\",\"t\":5,\"action\":\"kill\",\"nodes\":[9]}\n", 3, "h.jsonl:2: no node 9"),
            (
                "{\"type\":\"nemesis\",\"t\":5,\"action\":\"kill\",\"nodes\":[1],\"why\":1}\n",
                3,
                "h.jsonl:2: unknown field `why`",
            ),
            (
                "{\"type\":\"nemesis\",\"t\":5,\"action\":\"restart\",\"nodes\":[],\"targets\":\"n1\"}\n",
                3,
                "h.jsonl:2: `targets`: invalid type",
            ),
        ];
        for (body, nodes, want) in cases {
            let text = if want.contains(":2:") { format!("{start}{body}") } else { body.to_string() };
            let e = replay(&text, nodes).unwrap_err();
            assert!(e.starts_with(want), "{text}: {e}");
        }
    }
}
