//! Each fault of the nemesis, proven to happen with real node processes: scripted schedules
//! (`--schedule`) for precise checks of each kind, a generated schedule with every fault,
//! a replay, a soak. Kills, restarts, crash points and a final phase that cannot restart a
//! node are tested in-process, in tests/run_loop/faults.rs.

mod common;

use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// A 3-node run of `time_s` seconds with the given schedule file text.
fn scripted(name: &str, time_s: &str, schedule: &str, extra: &[&str]) -> (PathBuf, Vec<Value>, Output) {
    let dir = runs_dir(name);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("schedule.jsonl");
    std::fs::write(&file, schedule).unwrap();
    let (d, f) = (dir.to_str().unwrap(), file.to_str().unwrap());
    let mut args = vec!["run", "--nodes", "3", "--time", time_s, "--runs-dir", d, "-q", "--schedule", f];
    args.extend_from_slice(extra);
    let out = synod().args(&args).output().unwrap();
    let events = history(&latest(&dir), false);
    (dir, events, out)
}

/// The line (index in `events`) of the first nemesis event with this action. Whether a
/// fault was in force for a message is a question of the order the controller acted in,
/// which is the history's line order: a send and a nemesis action can share a microsecond.
fn action_line(events: &[Value], action: &str) -> usize {
    events
        .iter()
        .position(|e| e["type"] == "nemesis" && e["action"] == action)
        .unwrap_or_else(|| panic!("no {action} event"))
}

/// The `t` of the first nemesis event with this action.
fn action_t(events: &[Value], action: &str) -> u64 {
    events[action_line(events, action)]["t"].as_u64().unwrap()
}

struct Msg<'a> {
    send: &'a Value,
    /// The send's line in the history.
    line: usize,
    recvs: Vec<u64>,
    drop: Option<&'a str>,
}

/// Messages by id, with their receive times and drop reason.
fn messages(events: &[Value]) -> HashMap<u64, Msg<'_>> {
    let mut msgs: HashMap<u64, Msg> = HashMap::new();
    for (line, e) in events.iter().enumerate() {
        let id = || e["msg"].as_u64().unwrap();
        match e["type"].as_str().unwrap() {
            "send" => {
                msgs.insert(id(), Msg { send: e, line, recvs: Vec::new(), drop: None });
            }
            "recv" => msgs.get_mut(&id()).unwrap().recvs.push(e["t"].as_u64().unwrap()),
            "drop" => msgs.get_mut(&id()).unwrap().drop = e["reason"].as_str(),
            _ => {}
        }
    }
    msgs
}

fn sent_at(m: &Msg) -> u64 {
    m.send["t"].as_u64().unwrap()
}

fn between_nodes(m: &Msg) -> bool {
    m.send["src"] != m.send["dest"]
}

/// When a fault was in force: from the line of the action that put it on to the line of
/// the one that took it off, and the time it went off.
struct Window {
    lines: std::ops::Range<usize>,
    off_t: u64,
}

impl Window {
    fn between(events: &[Value], on: &str, off: &str) -> Window {
        Window { lines: action_line(events, on)..action_line(events, off), off_t: action_t(events, off) }
    }

    /// Whether `m` was sent while the fault was in force.
    fn holds(&self, m: &Msg) -> bool {
        self.lines.contains(&m.line)
    }
}

/// A 2 s run with one network fault on from 0.3 s to 1.3 s: `on` is the action's JSON
/// fields (after `"at_s"`), `off` the action that ends it. Returns the events and when the
/// fault was in force.
fn fault_window(name: &str, on: &str, off: &str) -> (PathBuf, Vec<Value>, Window) {
    let schedule = format!("{{\"at_s\":0.3,{on}}}\n{{\"at_s\":1.3,\"action\":\"{off}\"}}\n");
    let (dir, events, out) = scripted(name, "2", &schedule, &[]);
    assert_exit(&out, 0);
    let on_name = &on[on.find(":\"").unwrap() + 2..];
    let on_name = &on_name[..on_name.find('"').unwrap()];
    let window = Window::between(&events, on_name, off);
    (dir, events, window)
}

#[test]
fn loss_drops_the_given_share_of_messages_only_while_on() {
    let (dir, events, on) = fault_window("loss", "\"action\":\"loss\",\"p\":0.5", "loss-off");
    let msgs = messages(&events);
    let in_window: Vec<&Msg> = msgs.values().filter(|m| between_nodes(m) && on.holds(m)).collect();
    let lost = in_window.iter().filter(|m| m.drop == Some("loss")).count();
    let share = lost as f64 / in_window.len() as f64;
    assert!(in_window.len() > 100 && (0.4..0.6).contains(&share), "{lost} of {}", in_window.len());
    assert!(msgs.values().filter(|m| !on.holds(m)).all(|m| m.drop != Some("loss")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn delay_holds_every_message_while_on() {
    let (dir, events, on) =
        fault_window("delay", "\"action\":\"delay\",\"dist\":\"constant\",\"mean_ms\":30", "delay-off");
    let msgs = messages(&events);
    let delayed: Vec<u64> = msgs
        .values()
        .filter(|m| on.holds(m) && !m.recvs.is_empty())
        .map(|m| m.recvs[0] - sent_at(m))
        .collect();
    assert!(delayed.len() > 20, "{}", delayed.len());
    assert!(delayed.iter().all(|&us| us >= 30_000), "{delayed:?}");
    let after: Vec<u64> = msgs
        .values()
        .filter(|m| sent_at(m) > on.off_t + 100_000 && !m.recvs.is_empty())
        .map(|m| m.recvs[0] - sent_at(m))
        .collect();
    assert!(after.iter().filter(|&&us| us < 30_000).count() * 2 > after.len(), "delay ended");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn duplicate_delivers_messages_twice() {
    let (dir, events, on) = fault_window("dup", "\"action\":\"duplicate\",\"p\":1.0", "duplicate-off");
    let msgs = messages(&events);
    let window: Vec<&Msg> = msgs.values().filter(|m| on.holds(m)).collect();
    let twice = window.iter().filter(|m| m.recvs.len() == 2).count();
    assert!(window.len() > 100 && twice * 10 >= window.len() * 9, "{twice} of {}", window.len());
    assert!(msgs.values().filter(|m| m.line > on.lines.end).all(|m| m.recvs.len() <= 1));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Pairs of messages on one link received in the opposite order to the one they were sent in.
fn overtakes(msgs: &[&Msg]) -> usize {
    let mut by_link: HashMap<(u64, u64), Vec<(u64, u64)>> = HashMap::new();
    for m in msgs.iter().filter(|m| !m.recvs.is_empty()) {
        let link = (m.send["src"].as_u64().unwrap(), m.send["dest"].as_u64().unwrap());
        by_link.entry(link).or_default().push((sent_at(m), m.recvs[0]));
    }
    let mut n = 0;
    for list in by_link.values_mut() {
        list.sort();
        n += list.windows(2).filter(|w| w[1].1 < w[0].1).count();
    }
    n
}

#[test]
fn reorder_lets_later_messages_overtake() {
    let (dir, events, on) =
        fault_window("reorder", "\"action\":\"reorder\",\"p\":0.5,\"max_ms\":40", "reorder-off");
    let msgs = messages(&events);
    let during: Vec<&Msg> = msgs.values().filter(|m| on.holds(m)).collect();
    let after: Vec<&Msg> = msgs.values().filter(|m| sent_at(m) > on.off_t + 100_000).collect();
    assert!(overtakes(&during) > 10, "{}", overtakes(&during));
    assert_eq!(overtakes(&after), 0, "links are FIFO again after reorder-off");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn partitions_cut_links_both_ways_or_one_way_until_healed() {
    let (dir, events, out) = scripted(
        "partition",
        "2.5",
        "{\"at_s\":0.3,\"action\":\"partition\",\"shape\":\"isolate\",\"components\":[[1],[2,3]]}\n\
         {\"at_s\":1.0,\"action\":\"heal\"}\n\
         {\"at_s\":1.2,\"action\":\"partition\",\"shape\":\"one-way\",\"cut\":[[1,2]]}\n\
         {\"at_s\":1.8,\"action\":\"heal\"}\n",
        &[],
    );
    assert_exit(&out, 0);
    let parts: Vec<usize> = (0..events.len())
        .filter(|&i| {
            events[i]["type"] == "nemesis"
                && (events[i]["action"] == "partition" || events[i]["action"] == "heal")
        })
        .collect();
    assert_eq!(parts.len(), 4);
    let msgs = messages(&events);
    let link = |m: &Msg| (m.send["src"].as_u64().unwrap(), m.send["dest"].as_u64().unwrap());
    let cut = |m: &Msg| m.drop == Some("partition");
    let mut isolated = 0;
    for m in msgs.values() {
        let line = m.line;
        let (s, d) = link(m);
        if (parts[0]..parts[1]).contains(&line) {
            let crosses = (s == 1) != (d == 1);
            assert_eq!(cut(m), crosses, "isolate n1: {}", m.send);
            isolated += usize::from(crosses);
        } else if (parts[2]..parts[3]).contains(&line) {
            assert_eq!(cut(m), (s, d) == (1, 2), "one-way 1->2: {}", m.send);
        } else {
            assert!(!cut(m), "no partition in force: {}", m.send);
        }
    }
    assert!(isolated > 10, "{isolated}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn process_events(events: &[Value], node: u64) -> Vec<&Value> {
    events.iter().filter(|e| e["type"] == "process" && e["node"] == node).collect()
}

/// The state letter of /proc/<pid>/stat (R, S, T, Z, ...), or None once the process is gone.
fn proc_state(pid: u64) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(stat.rsplit_once(')').unwrap().1.split_whitespace().next().unwrap().to_string())
}

/// Waits until the run's history has a nemesis event with this action; returns the run.
fn wait_for_action(dir: &Path, action: &str) -> (PathBuf, Vec<Value>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(run) = std::fs::canonicalize(dir.join("latest")) {
            let events = history(&run, true);
            if events.iter().any(|e| e["type"] == "nemesis" && e["action"] == action) {
                return (run, events);
            }
        }
        assert!(Instant::now() < deadline, "no {action} event");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pause_stops_the_process_and_cont_resumes_it() {
    let dir = runs_dir("pause");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("s.jsonl");
    std::fs::write(
        &file,
        "{\"at_s\":0.3,\"action\":\"stop\",\"nodes\":[3]}\n{\"at_s\":1.5,\"action\":\"cont\",\"nodes\":[3]}\n",
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    // The run goes on well after the cont, so the process is still there to look at.
    let ctl = start(&[
        "run",
        "--nodes",
        "3",
        "--time",
        "5",
        "--runs-dir",
        d,
        "-q",
        "--schedule",
        file.to_str().unwrap(),
    ]);
    let (_, events) = wait_for_action(&dir, "stop");
    let pid = process_events(&events, 3)[0]["pid"].as_u64().unwrap();
    // The event is recorded just before the signal is sent: give the signal a moment.
    let stopped = || proc_state(pid).as_deref() == Some("T");
    let settles = |want_stopped: bool| {
        let deadline = Instant::now() + Duration::from_secs(2);
        while stopped() != want_stopped && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        stopped() == want_stopped
    };
    assert!(settles(true), "n3 (pid {pid}) is stopped");
    // The history reaches its file a compressed block at a time: on a busy machine the
    // `cont` line may show only once the run is over and n3 has exited. Gone is not
    // stopped; that it ran again after `cont` the history shows below (it speaks).
    wait_for_action(&dir, "cont");
    assert!(settles(false), "n3 (pid {pid}) runs again");
    let out = ctl.wait_with_output().unwrap();
    assert_exit(&out, 0);
    let events = history(&latest(&dir), false);
    let (stop, cont) = (action_t(&events, "stop"), action_t(&events, "cont"));
    let msgs = messages(&events);
    assert!(msgs.values().all(|m| !(m.send["src"] == 3 && (stop + 50_000..cont).contains(&sent_at(m)))));
    assert!(msgs.values().any(|m| m.send["src"] == 3 && sent_at(m) > cont), "n3 speaks after cont");
    assert_eq!(process_events(&events, 3).len(), 2, "the same process throughout: up, exit");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every nemesis action but the final heal, with its offset from the workload's start, as a
/// replay repeats them: a crash point's kills and restarts by time (without their trigger),
/// the crash point itself not at all.
fn actions(events: &[Value]) -> Vec<(u64, String)> {
    let t0 = events.iter().find(|e| e["type"] == "phase").unwrap()["t"].as_u64().unwrap();
    events
        .iter()
        .filter(|e| e["type"] == "nemesis" && e["final"] != true)
        .filter(|e| e["action"] != "crash-point" && e["action"] != "crash-point-off")
        .map(|e| {
            let mut fields = e.as_object().unwrap().clone();
            let t = fields.remove("t").unwrap().as_u64().unwrap();
            fields.remove("trigger");
            // What the schedule asked for, not whom it found in the state to act on: that
            // depends on how soon killed processes were reaped (`targets`, when they differ).
            if let Some(targets) = fields.remove("targets") {
                fields.insert("nodes".into(), targets);
            }
            (t - t0, Value::Object(fields).to_string())
        })
        .collect()
}

#[test]
fn generated_faults_hit_and_a_replay_repeats_them_at_the_same_offsets() {
    let dir = runs_dir("generated");
    let d = dir.to_str().unwrap();
    let flags = [
        "--nodes",
        "5",
        "--time",
        "6",
        "--nemesis-interval-s",
        "0.5",
        "--down-ms",
        "250",
        "--pause-ms",
        "250",
    ];
    let mut args = vec!["run", "--seed", "3", "--runs-dir", d, "-q"];
    args.extend_from_slice(&flags);
    run_ok(&args);
    let first = latest(&dir);
    let events = history(&first, false);
    let recorded = actions(&events);
    for kind in ["kill", "restart", "stop", "cont", "partition", "heal", "loss", "kill-all"] {
        assert!(
            recorded.iter().any(|(_, a)| a.contains(&format!("\"action\":\"{kind}\""))),
            "no {kind} in {recorded:?}"
        );
    }
    // After every kill, the node comes back as a new process.
    for node in 1..=5u64 {
        let procs = process_events(&events, node);
        for w in procs.windows(2) {
            if w[0]["event"] == "exit" {
                assert_eq!(w[1]["event"], "up");
                assert_ne!(w[0]["pid"], w[1]["pid"]);
            }
        }
    }
    run_ok(&["run", "--replay", first.to_str().unwrap(), "--runs-dir", d, "-q"]);
    let second = latest(&dir);
    assert_ne!(first, second);
    let replayed = actions(&history(&second, false));
    let meta: Value = serde_json::from_slice(&std::fs::read(second.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["seed"], 3);
    assert_eq!(meta["config"]["schedule"]["source"], "replay");
    assert_eq!(replayed.len(), recorded.len());
    for ((t1, a1), (t2, a2)) in recorded.iter().zip(&replayed) {
        assert_eq!(a1, a2);
        assert!(t1.abs_diff(*t2) < 150_000, "{a1} at {t1} us, replayed at {t2} us");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn soak_runs_swarm_nemeses_back_to_back_and_lists_them() {
    let dir = runs_dir("soak");
    let d = dir.to_str().unwrap();
    let out = synod()
        .args([
            "soak",
            "--runs",
            "2",
            "--time-per-run",
            "1.5",
            "--nodes",
            "3",
            "--seed",
            "5",
            "--runs-dir",
            d,
            "-q",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("runs 2") && text.contains("safety violations 0"), "{text}");
    let soak = folder_with_prefix(&dir, "soak-");
    let summary: Value = serde_json::from_slice(&std::fs::read(soak.join("soak.json")).unwrap()).unwrap();
    assert_eq!(summary["totals"]["runs"], 2);
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_ne!(runs[0]["seed"], runs[1]["seed"]);
    // compare reads the soak folder: one row a run.
    let out = synod().args(["compare", soak.to_str().unwrap()]).output().unwrap();
    assert_exit(&out, 0);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(table.lines().count(), 3, "{table}");
    for r in runs {
        let path = PathBuf::from(r["path"].as_str().unwrap());
        assert!(path.join("report.json").exists());
        assert!(table.contains(r["run_id"].as_str().unwrap()), "{table}");
        assert!(r["replay"].as_str().unwrap().starts_with("synod run --replay "));
        assert!(!r["nemesis"]["faults"].as_array().unwrap().is_empty());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn soak_stops_at_the_first_safety_violation_and_says_how_to_replay_it() {
    let dir = runs_dir("soakbug");
    let d = dir.to_str().unwrap();
    let out = synod()
        .args(["soak", "--runs", "4", "--time-per-run", "2", "--nodes", "3", "--bug", "learn-on-one"])
        .args(["--seed", "1", "--runs-dir", d, "-q"])
        .output()
        .unwrap();
    assert_exit(&out, 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("stopped early: safety violated in run"), "{text}");
    assert!(text.contains("replay: synod run --replay "), "{text}");
    let soak = folder_with_prefix(&dir, "soak-");
    let summary: Value = serde_json::from_slice(&std::fs::read(soak.join("soak.json")).unwrap()).unwrap();
    let runs = summary["runs"].as_array().unwrap();
    let (last, before) = runs.split_last().unwrap();
    assert_eq!(last["safe"], false, "the soak ended on the unsafe run");
    assert!(!last["violated"].as_array().unwrap().is_empty());
    assert!(before.iter().all(|r| r["safe"] == true));
    assert_eq!(summary["totals"]["safety_violations"], 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The bench's power to catch bugs must not regress: three fast mutants are each caught
/// within a small budget, and the correct protocol, soaked as long, shows no violation.
#[test]
fn mutant_hunt_catches_three_fast_mutants_and_clears_the_correct_protocol() {
    let dir = runs_dir("hunt");
    let d = dir.to_str().unwrap();
    let out = synod()
        .args(["mutants", "--only", "learn-on-one,minority-quorum,ignore-promised-value"])
        .args([
            "--budget-s",
            "20",
            "--time-per-run",
            "2",
            "--nodes",
            "3",
            "--seed",
            "1",
            "--runs-dir",
            d,
            "-q",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let hunt_dir = folder_with_prefix(&dir, "mutants-");
    let report: Value =
        serde_json::from_slice(&std::fs::read(hunt_dir.join("mutants.json")).unwrap()).unwrap();
    let hunts = report["hunts"].as_array().unwrap();
    assert_eq!(hunts.len(), 3);
    for h in hunts {
        assert_eq!(h["caught"], true, "{h}");
        assert!(h["seconds_to_catch"].as_f64().unwrap() <= 25.0, "{h}");
        assert!(!h["rules"].as_array().unwrap().is_empty());
        let run = PathBuf::from(h["run"].as_str().unwrap());
        let meta: Value = serde_json::from_slice(&std::fs::read(run.join("meta.json")).unwrap()).unwrap();
        assert_eq!(meta["config"]["tuning"]["bug"], h["mutant"], "the run ran that mutant");
    }
    let control = &report["control"];
    assert_eq!(control["safety_violations"], 0, "{control}");
    assert!(control["runs"].as_u64().unwrap() >= 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("caught 3 of 3"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A 3-node run of instances proposed by n1 alone, one at a time, with no faults but the
/// schedule's.
fn precise(name: &str, schedule: &str) -> (PathBuf, Vec<Value>) {
    precise_with(name, schedule, &[])
}

fn precise_with(name: &str, schedule: &str, extra: &[&str]) -> (PathBuf, Vec<Value>) {
    let mut flags = vec!["--proposers", "1", "--contention", "1", "--concurrency", "1", "--instances", "5"];
    flags.extend_from_slice(extra);
    let (dir, events, out) = scripted(name, "3", schedule, &flags);
    assert_exit(&out, 0);
    (dir, events)
}

#[test]
fn a_trigger_drops_exactly_the_message_it_names() {
    let (dir, events) = precise(
        "dropone",
        "{\"on\":{\"type\":\"accept\",\"src\":1,\"dest\":2,\"instance\":2},\"action\":\"drop-message\"}\n",
    );
    let msgs = messages(&events);
    let dropped: Vec<&Msg> = msgs.values().filter(|m| m.drop == Some("nemesis")).collect();
    assert_eq!(dropped.len(), 1);
    let b = &dropped[0].send;
    assert_eq!((b["src"].as_u64(), b["dest"].as_u64()), (Some(1), Some(2)));
    assert_eq!(b["body"]["type"], "accept");
    assert_eq!(b["body"]["instance"], 2);
    assert!(events.iter().any(|e| e["type"] == "nemesis" && e["action"] == "drop-message"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_trigger_kills_a_node_right_after_a_message_is_delivered_to_it() {
    let (dir, events) = precise(
        "killafter",
        "{\"on\":{\"type\":\"accept\",\"dest\":3,\"instance\":2,\"at\":\"delivery\"},\"action\":\"kill\",\"nodes\":[3]}\n\
         {\"at_s\":1.0,\"action\":\"restart\",\"nodes\":[3]}\n",
    );
    let msgs = messages(&events);
    let accept = msgs
        .values()
        .find(|m| {
            m.send["body"]["type"] == "accept" && m.send["dest"] == 3 && m.send["body"]["instance"] == 2
        })
        .unwrap();
    let kill = events.iter().find(|e| e["type"] == "nemesis" && e["action"] == "kill").unwrap();
    let delivered = accept.recvs[0];
    let killed = kill["t"].as_u64().unwrap();
    assert!(
        killed >= delivered && killed - delivered < 5_000,
        "delivered at {delivered}, killed at {killed}"
    );
    assert_eq!(kill["nodes"], serde_json::json!([3]));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hold_keeps_messages_to_a_node_until_hold_off() {
    let (dir, events, out) = scripted(
        "hold",
        "1.5",
        "{\"at_s\":0.2,\"action\":\"hold\",\"nodes\":[3]}\n{\"at_s\":0.6,\"action\":\"hold-off\",\"nodes\":[3]}\n",
        // Light load: the burst released at hold-off fits the node's queue.
        &["--nemesis", "none", "--concurrency", "1"],
    );
    assert_exit(&out, 0);
    let on = Window::between(&events, "hold", "hold-off");
    let msgs = messages(&events);
    let held: Vec<&Msg> =
        msgs.values().filter(|m| m.send["dest"] == 3 && m.send["src"] != 3 && on.holds(m)).collect();
    assert!(held.len() > 10, "{}", held.len());
    for m in &held {
        assert!(m.drop.is_none(), "held, not lost: {}", m.send);
        assert!(m.recvs[0] >= on.off_t, "delivered at {} before hold-off at {}", m.recvs[0], on.off_t);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_trigger_pauses_a_proposer_between_its_two_phases() {
    // n1 owns every instance's round 0, which skips phase 1: ask for both phases.
    let (dir, events) = precise_with(
        "pausephase",
        "{\"on\":{\"type\":\"promise\",\"dest\":1,\"instance\":1,\"at\":\"delivery\"},\"action\":\"stop\",\"nodes\":[1]}\n\
         {\"at_s\":0.8,\"action\":\"cont\",\"nodes\":[1]}\n",
        &["--no-fast-round"],
    );
    let (stop, cont) = (action_t(&events, "stop"), action_t(&events, "cont"));
    let msgs = messages(&events);
    let first_promise = msgs
        .values()
        .filter(|m| {
            m.send["body"]["type"] == "promise" && m.send["dest"] == 1 && m.send["body"]["instance"] == 1
        })
        .map(|m| m.recvs[0])
        .min()
        .unwrap();
    assert!(stop >= first_promise && stop - first_promise < 5_000);
    // n1 sent no accept while it was stopped (a little slack for what it wrote just before).
    assert!(msgs.values().all(|m| !(m.send["src"] == 1
        && m.send["body"]["type"] == "accept"
        && (stop + 2_000..cont).contains(&sent_at(m)))));
    assert!(msgs
        .values()
        .any(|m| m.send["src"] == 1 && m.send["body"]["type"] == "accept" && sent_at(m) >= cont));
    std::fs::remove_dir_all(&dir).unwrap();
}
