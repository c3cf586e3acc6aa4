//! What the run loop does with replies that come late, twice, under another instance's
//! number, while the nodes stop, or never: with tests/nodes/scripted.sh as the node (a node
//! written outside synod), and with the built-in node under a 1 ms op timeout.

use crate::harness::{self, config, count, end, events, Runs};
use anyhow::Result;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};
use synod_checker::history::{Event, Failed, Ok as OkEvent};
use synod_controller::exit::Exit;
use synod_controller::run::config::{RunConfig, Trace};
use synod_controller::run::RunOutcome;

/// A 1-node run of tests/nodes/scripted.sh in `mode` (trace ops, no nemesis, concurrency 2),
/// with `tweak` applied; returns its runs, its outcome and its events.
pub fn scripted_run(
    name: &str,
    mode: &str,
    tweak: impl FnOnce(&mut RunConfig),
) -> (Runs, Result<RunOutcome>, Vec<Event<'static>>) {
    let runs = Runs::new(name);
    let mut cfg = config(&runs, 1, 30.0);
    harness::set_nemesis(&mut cfg, "none");
    (cfg.trace, cfg.concurrency) = (Trace::Ops, 2);
    cfg.node_cmd = Some(crate::common::scripted_node(mode));
    tweak(&mut cfg);
    let outcome = harness::run(cfg);
    let events = events(&runs.latest());
    (runs, outcome, events)
}

/// The exit `synod run` would give: the verdict's, or 2 for a run that returned an error.
pub fn exit_of(outcome: &Result<RunOutcome>) -> Exit {
    match outcome {
        Ok(o) => Exit::of_report(&o.report),
        Err(_) => Exit::Error,
    }
}

/// `time_s`, `final_s` and `op_timeout_ms`.
fn timing(time_s: f64, final_s: f64, op_timeout_ms: u64) -> impl FnOnce(&mut RunConfig) {
    move |c| (c.time_s, c.final_s, c.op_timeout_ms) = (time_s, final_s, op_timeout_ms)
}

/// The op a line other than `invoke` is about: a reply's, or an error's.
fn reply_to(e: &Event) -> Option<u64> {
    match e {
        Event::Ok(o) => Some(o.op),
        Event::Fail(f) | Event::Info(f) => Some(f.op),
        Event::Error(x) => x.op,
        _ => None,
    }
}

fn learned_value<'e>(events: &'e [Event<'static>], instance: u64) -> &'e str {
    each!(events, Learn).find(|l| l.instance == instance).unwrap().value.as_ref()
}

#[test]
fn late_and_repeated_replies_are_recorded_and_a_late_ok_answers_the_client() {
    // Each op gets `error busy` (the op ends `fail`), then `propose_ok`, then `error busy`.
    let started = Instant::now();
    let (runs, outcome, events) = scripted_run("stutter", "stutter", timing(0.5, 10.0, 5000));
    assert_eq!(exit_of(&outcome), Exit::Ok);
    let late_oks: Vec<&OkEvent> = each!(events, Ok).filter(|o| o.late).collect();
    let late_fails: Vec<&Failed> = each!(events, Fail).filter(|f| f.late).collect();
    assert!(!late_oks.is_empty() && !late_fails.is_empty(), "{late_oks:?} {late_fails:?}");
    assert_eq!(each!(events, Info).filter(|f| f.late).count(), 0);
    let lates = late_oks.iter().map(|o| (o.op, o.node, Some(o.instance)));
    for (op, node, instance) in lates.chain(late_fails.iter().map(|f| (f.op, f.node, f.instance))) {
        assert!(node == Some(1) && instance.is_some(), "op {op}");
        // The op ended before: its in-time reply comes first, without `late`.
        let first = events.iter().find(|e| reply_to(e) == Some(op)).unwrap();
        let Event::Fail(first) = first else { panic!("op {op} first ended {first:?}") };
        assert!(!first.late, "{first:?}");
    }
    for o in &late_oks {
        assert_eq!(o.value, learned_value(&events, o.instance), "{o:?}");
    }
    for f in &late_fails {
        assert!(f.error.as_deref() == Some("busy") && f.text.as_deref() == Some("stutter"), "{f:?}");
    }
    // Only late oks answered the clients: the workload took them as answers, so the final
    // phase had nothing to chase and ended at once instead of after final_s 10.
    let end = end(&events);
    assert_eq!((end.unanswered, end.unlearned), (Some(0), Some(0)), "{end:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    runs.remove();
}

#[test]
fn an_ok_answers_the_op_s_instance_whatever_instance_the_reply_names() {
    // Each op is answered with its own instance's value under the next instance's number,
    // then a propose_ok to op 0 (never invoked) comes too.
    let (runs, outcome, events) = scripted_run("misname", "misname", timing(0.5, 3.0, 2000));
    let invoked: HashMap<u64, u64> = each!(events, Invoke).map(|i| (i.op, i.instance)).collect();
    let (unknown, known): (Vec<&OkEvent>, Vec<&OkEvent>) = each!(events, Ok).partition(|o| o.op == 0);
    assert!(!known.is_empty() && !unknown.is_empty());
    for o in &known {
        let instance = invoked[&o.op];
        assert_eq!(o.instance, instance, "recorded under the op's instance: {o:?}");
        assert_eq!(o.reply_instance, Some(instance + 1), "{o:?}");
        let error =
            each!(events, Error).find(|x| x.op == Some(o.op)).unwrap_or_else(|| panic!("no error for {o:?}"));
        let text = &error.error;
        assert!(
            text.contains(&format!("instance {instance}")) && text.contains(&format!("{}", instance + 1)),
            "{text}"
        );
    }
    for o in &unknown {
        assert!(o.unknown_op, "{o:?}");
        assert_eq!(o.reply_instance, None, "{o:?}");
    }
    // Judged against the op's instance, each value is that instance's decision: valid.
    assert_eq!(exit_of(&outcome), Exit::Ok);
    runs.remove();
}

#[test]
fn replies_sent_while_the_nodes_stop_are_recorded() {
    // The node answers its last op only on SIGTERM, after the final phase.
    let (runs, _, events) = scripted_run("farewell", "farewell", timing(0.5, 0.5, 200));
    let ok = events.iter().position(|e| e.kind() == "ok").expect("the reply during the stop was recorded");
    let Event::Ok(reply) = &events[ok] else { unreachable!() };
    assert_eq!(reply.value, learned_value(&events, reply.instance), "{reply:?}");
    let final_at = events.iter().position(|e| matches!(e, Event::Phase(p) if p.phase == "final")).unwrap();
    let exit = events.iter().position(|e| matches!(e, Event::Process(p) if p.event == "exit")).unwrap();
    assert!(final_at < ok && ok < exit, "sent after the final phase, before the node exited");
    assert_eq!(count(&events[exit..], "invoke"), 0, "nothing invoked while the nodes stop");
    runs.remove();
}

#[test]
fn replies_after_the_op_timeout_are_recorded_late_with_the_built_in_node() {
    // Decisions take about a millisecond: with a 1 ms op timeout most replies come late.
    let runs = Runs::new("late");
    let mut cfg = config(&runs, 3, 1.0);
    harness::set_nemesis(&mut cfg, "none");
    (cfg.op_timeout_ms, cfg.final_s, cfg.instances) = (1, 3.0, Some(300));
    let outcome = harness::run(cfg).unwrap();
    let events = events(&outcome.run_dir);
    let mut timed_out = HashSet::new();
    let mut late_oks = 0;
    for e in &events {
        match e {
            Event::Info(f) if f.error.as_deref() == Some("timeout") => {
                timed_out.insert(f.op);
            }
            Event::Ok(o) if o.late => {
                late_oks += 1;
                assert!(o.node.is_some(), "{o:?}");
                assert!(timed_out.contains(&o.op), "a late ok before its op timed out: {o:?}");
            }
            _ => {}
        }
    }
    assert!(late_oks > 0);
    assert_eq!(end(&events).unanswered, Some(0));
    assert_eq!(
        serde_json::to_value(outcome.report.verdict).unwrap(),
        "valid",
        "{}",
        outcome.report.render_text()
    );
    assert!(outcome.exercised.is_empty(), "no nemesis: {:?}", outcome.exercised);
    runs.remove();
}

#[test]
fn a_node_that_never_answers_its_clients_is_not_live() {
    let (runs, outcome, events) = scripted_run("mute", "mute", timing(0.5, 1.0, 200));
    // What the controller knows: every instance was learned, none was answered.
    assert!(count(&events, "learn") > 0);
    assert_eq!(count(&events, "ok"), 0);
    let instances: BTreeSet<u64> = each!(events, Invoke).map(|i| i.instance).collect();
    let end = end(&events);
    assert_eq!(end.unlearned, Some(0), "{end:?}");
    assert_eq!(end.unanswered, Some(instances.len() as u64), "{end:?}");
    // The final phase chased them: re-invoked after the workload ended.
    let final_at = events.iter().position(|e| matches!(e, Event::Phase(p) if p.phase == "final")).unwrap();
    assert!(events[final_at..].iter().any(|e| e.kind() == "invoke"));
    // The verdict: safe but not live (the checker's client liveness).
    let outcome = outcome.unwrap();
    assert_eq!(Exit::of_report(&outcome.report), Exit::NotLive, "end: {end:?}");
    assert!(outcome.report.safe && outcome.report.live == Some(false));
    runs.remove();
}
