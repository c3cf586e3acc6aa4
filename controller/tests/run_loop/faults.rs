//! What the run loop does to its nodes on a scripted nemesis schedule (a `schedule.jsonl` as
//! `--schedule` takes it): kills and restarts, crash points, a node that cannot come back.
//! The typed outcome counts the faults started (`exercised`) and what went wrong in the final
//! phase (`final_errors`). The message-level faults (loss, delay, partitions, triggers) are
//! tested in tests/nemesis.rs.

use crate::harness::{self, config, events, Runs};
use crate::replies::exit_of;
use anyhow::Result;
use std::collections::{BTreeMap, HashMap};
use synod_checker::history::{Event, Nemesis, Process, Send};
use synod_controller::exit::Exit;
use synod_controller::nemesis::{file, FaultKind};
use synod_controller::run::config::{RunConfig, ScheduleSource};
use synod_controller::run::RunOutcome;

/// A 3-node run of `time_s` with the schedule file `schedule` (generated faults off, as
/// with `--schedule`), `tweak` applied.
fn scripted(
    name: &str,
    time_s: f64,
    schedule: &str,
    tweak: impl FnOnce(&mut RunConfig),
) -> (Runs, Result<RunOutcome>, Vec<Event<'static>>) {
    let runs = Runs::new(name);
    std::fs::create_dir_all(&runs.dir).unwrap();
    let path = runs.dir.join("schedule.jsonl");
    std::fs::write(&path, schedule).unwrap();
    let mut cfg = config(&runs, 3, time_s);
    tweak(&mut cfg);
    let schedule = file::read_schedule(&path, cfg.nodes).unwrap();
    cfg.schedule = ScheduleSource::File { path };
    let outcome = harness::run_with(cfg, schedule);
    let events = events(&runs.latest());
    (runs, outcome, events)
}

fn process_events<'e>(events: &'e [Event<'static>], node: u64) -> Vec<&'e Process<'static>> {
    each!(events, Process).filter(|p| p.node == node).collect()
}

/// The `t` of the first nemesis event with this action.
fn action_t(events: &[Event], action: &str) -> u64 {
    each!(events, Nemesis).find(|n| n.action == action).unwrap_or_else(|| panic!("no {action} event")).t
}

/// A message: its `send`, the times it was received, why it was dropped.
struct Msg<'e> {
    send: &'e Send<'static>,
    recvs: Vec<u64>,
    drop: Option<&'e str>,
}

/// Messages by id.
fn messages<'e>(events: &'e [Event<'static>]) -> HashMap<u64, Msg<'e>> {
    let mut msgs: HashMap<u64, Msg> = HashMap::new();
    for e in events {
        match e {
            Event::Send(s) => {
                msgs.insert(s.msg.unwrap(), Msg { send: s, recvs: Vec::new(), drop: None });
            }
            Event::Recv(r) => msgs.get_mut(&r.msg.unwrap()).unwrap().recvs.push(r.t),
            Event::Drop(d) => msgs.get_mut(&d.msg.unwrap()).unwrap().drop = Some(d.reason.as_ref()),
            _ => {}
        }
    }
    msgs
}

/// The faults the outcome says were started: exactly `want`.
fn assert_exercised(outcome: &RunOutcome, want: &[(FaultKind, u64)]) {
    assert_eq!(outcome.exercised, want.iter().copied().collect::<BTreeMap<_, _>>());
}

#[test]
fn kill_sigkills_and_restart_brings_a_new_pid_on_the_same_data() {
    let (runs, outcome, events) = scripted(
        "kill",
        2.0,
        "{\"at_s\":0.4,\"action\":\"kill\",\"nodes\":[2]}\n{\"at_s\":1.0,\"action\":\"restart\",\"nodes\":[2]}\n",
        |_| {},
    );
    let outcome = outcome.unwrap();
    // Safe and live, and so n2 learned everything by the end.
    assert_eq!(Exit::of_report(&outcome.report), Exit::Ok, "{}", outcome.report.render_text());
    assert_exercised(&outcome, &[(FaultKind::Kill, 1)]);
    let procs = process_events(&events, 2);
    let kinds: Vec<&str> = procs.iter().map(|p| p.event.as_ref()).collect();
    assert_eq!(kinds[..3], ["up", "exit", "up"], "{procs:?}");
    assert_eq!(procs[1].status.as_deref(), Some("signal SIGKILL"));
    assert_eq!(procs[0].pid, procs[1].pid);
    assert_ne!(procs[0].pid, procs[2].pid, "a new process");
    let (kill, restart) = (action_t(&events, "kill"), action_t(&events, "restart"));
    let msgs = messages(&events);
    let down = msgs.values().filter(|m| m.drop == Some("down") && m.send.dest == 2).count();
    assert!(down > 0, "messages to the dead node are dropped as down");
    assert!(msgs.values().any(|m| m.send.src == 2 && m.send.t > restart), "n2 speaks again");
    assert!(msgs.values().all(|m| !(m.send.src == 2 && (kill + 50_000..restart).contains(&m.send.t))));
    // The restarted node kept its acceptor log: the same data dir, grown across both lives.
    let log = outcome.run_dir.join("nodes/n2/acceptor.log");
    assert!(std::fs::metadata(&log).unwrap().len() > 0);
    runs.remove();
}

#[test]
fn kill_all_takes_every_node_down_and_back() {
    let (runs, outcome, events) = scripted(
        "killall",
        2.0,
        "{\"at_s\":0.4,\"action\":\"kill-all\"}\n{\"at_s\":0.9,\"action\":\"restart\",\"nodes\":[1,2,3]}\n",
        |_| {},
    );
    let outcome = outcome.unwrap();
    assert_eq!(Exit::of_report(&outcome.report), Exit::Ok, "{}", outcome.report.render_text());
    assert_exercised(&outcome, &[(FaultKind::KillAll, 1)]);
    let ka: &Nemesis = each!(events, Nemesis).find(|n| n.action == "kill-all").unwrap();
    assert_eq!(ka.node_ids(), [1, 2, 3], "records whom it killed");
    for node in 1..=3 {
        let procs = process_events(&events, node);
        assert_eq!(procs[1].status.as_deref(), Some("signal SIGKILL"), "n{node}: {procs:?}");
        assert_ne!(procs[0].pid, procs[2].pid);
    }
    runs.remove();
}

#[test]
fn a_node_that_cannot_come_back_is_reported_and_the_history_still_checked() {
    // A node command that works once per data dir and then fails.
    let cmd = format!(
        "sh -c 'test -e \"$SYNOD_DATA_DIR/once\" && exit 7; touch \"$SYNOD_DATA_DIR/once\"; exec {} node'",
        env!("CARGO_BIN_EXE_synod")
    );
    let (runs, outcome, events) = scripted(
        "cantrestart",
        1.5,
        "{\"at_s\":0.3,\"action\":\"kill\",\"nodes\":[2]}\n{\"at_s\":0.6,\"action\":\"restart\",\"nodes\":[2]}\n",
        |c| (c.node_cmd, c.final_s) = (Some(cmd), 2.0),
    );
    assert_eq!(exit_of(&outcome), Exit::NotLive);
    let outcome = outcome.unwrap();
    let down = "n2 is down at the end of the final phase (see its process events)";
    assert!(outcome.final_errors.iter().any(|e| e == down), "{:?}", outcome.final_errors);
    assert!(each!(events, Error).any(|e| e.node == Some(2) && e.error == down), "recorded in the history");
    assert!(process_events(&events, 2).iter().any(|p| p.status.as_deref() == Some("exit 7")));
    assert!(outcome.run_dir.join("report.json").exists());
    runs.remove();
}

#[test]
fn crash_point_kills_a_node_right_after_it_sends_the_chosen_message() {
    let (runs, outcome, events) = scripted(
        "crashpoint",
        2.0,
        "{\"at_s\":0.3,\"action\":\"crash-point\",\"msg\":\"accept\",\"p\":0.5,\"down_ms\":100}\n\
         {\"at_s\":1.5,\"action\":\"crash-point-off\"}\n",
        |_| {},
    );
    let outcome = outcome.unwrap();
    assert_eq!(Exit::of_report(&outcome.report), Exit::Ok, "{}", outcome.report.render_text());
    let kills: Vec<usize> = (0..events.len())
        .filter(|&i| matches!(&events[i], Event::Nemesis(n) if n.action == "kill"))
        .collect();
    assert!(kills.len() >= 2, "{} crash-point kills", kills.len());
    // Arming the crash point counts as one, and so does each kill it makes.
    assert_exercised(&outcome, &[(FaultKind::CrashPoint, 1 + kills.len() as u64)]);
    for &i in &kills {
        let Event::Nemesis(kill) = &events[i] else { unreachable!() };
        assert_eq!(kill.params["trigger"], "accept");
        let node = kill.node_ids()[0];
        let sent_by = |e: &Event| matches!(e, Event::Send(s) if s.src == node);
        // The last message the victim sent before its kill was an accept.
        let Some(Event::Send(last)) = events[..i].iter().rev().find(|e| sent_by(e)) else {
            panic!("no send")
        };
        assert_eq!(last.body.type_name().as_deref(), Some("accept"), "{last:?}");
        // Nothing it sent after the kill was routed, and it came back as a new process.
        let next_up = events[i..]
            .iter()
            .position(|e| matches!(e, Event::Process(p) if p.event == "up" && p.node == node));
        let next_up = i + next_up.expect("restarted");
        assert!(events[i..next_up].iter().all(|e| !sent_by(e)));
    }
    runs.remove();
}
