//! End-to-end tests of `synod run` with real node processes.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn synod() -> Command {
    Command::new(env!("CARGO_BIN_EXE_synod"))
}

fn runs_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synod-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Every line of the history, parsed; panics naming the line if one does not parse.
/// `allow_torn_tail`: the last line may be incomplete (a SIGKILLed controller).
fn history(run: &Path, allow_torn_tail: bool) -> Vec<Value> {
    let text = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let complete = if allow_torn_tail && !text.ends_with('\n') {
        text.rsplit_once('\n').map_or("", |(a, _)| a)
    } else {
        &text
    };
    complete
        .lines()
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {}: {e}: {l}", i + 1)))
        .collect()
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["type"] == kind).count()
}

fn latest(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir.join("latest")).unwrap()
}

/// Whether `pid` is a live process (a zombie waiting to be reaped is dead).
fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

fn node_pids(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e["type"] == "process" && e["event"] == "up")
        .map(|e| e["pid"].as_u64().unwrap())
        .collect()
}

fn run_ok(args: &[&str]) -> Output {
    let out = synod().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "synod {args:?} failed: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn three_node_run_is_recorded_checked_and_safe() {
    let dir = runs_dir("e2e");
    let d = dir.to_str().unwrap();
    let out =
        run_ok(&["run", "--nodes", "3", "--time", "2", "--final-s", "5", "--seed", "7", "--runs-dir", d]);
    let run = latest(&dir);
    let events = history(&run, false);
    assert_eq!(events[0]["type"], "run");
    assert_eq!(events[0]["seed"], 7);
    assert_eq!(events.last().unwrap()["type"], "end");
    for kind in ["invoke", "ok", "learn", "send", "recv", "process"] {
        assert!(count(&events, kind) > 0, "no {kind} events");
    }
    // Contention: each instance is invoked on two distinct proposers.
    let first_two: Vec<&Value> =
        events.iter().filter(|e| e["type"] == "invoke" && e["instance"] == 1).collect();
    assert_eq!(first_two.len(), 2);
    assert_ne!(first_two[0]["node"], first_two[1]["node"]);
    let report: Value = serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("safe and live"), "{text}");
    let meta: Value = serde_json::from_slice(&std::fs::read(run.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["seed"], 7);
    assert!(meta["command_line"].as_array().unwrap().len() > 3);
    assert_eq!(report["verdict"], "valid");
    assert_eq!(report["safe"], true);
    assert_eq!(report["live"], true);
    // Every node process ended with the run.
    for pid in node_pids(&events) {
        assert!(!alive(pid), "node pid {pid} outlived the run");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn node_cmd_runs_any_program_speaking_the_protocol() {
    let cmd = format!("{} node", env!("CARGO_BIN_EXE_synod"));
    let (dir, events) = short_run("nodecmd", &["--node-cmd", &cmd]);
    assert!(count(&events, "learn") > 0);
    let meta: Value =
        serde_json::from_slice(&std::fs::read(latest(&dir).join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["config"]["node_cmd"], cmd);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A quiet 3-node, 1-second run with `extra` flags; returns its runs dir and its events.
fn short_run(name: &str, extra: &[&str]) -> (PathBuf, Vec<Value>) {
    let dir = runs_dir(name);
    let d = dir.to_str().unwrap().to_string();
    let mut args = vec!["run", "--nodes", "3", "--time", "1", "--runs-dir", &d, "-q"];
    args.extend_from_slice(extra);
    run_ok(&args);
    let events = history(&latest(&dir), false);
    (dir, events)
}

#[test]
fn trace_ops_leaves_message_events_out() {
    let (dir, events) = short_run("traceops", &["--trace", "ops", "--loss", "0.05"]);
    assert!(count(&events, "learn") > 0 && count(&events, "ok") > 0);
    for kind in ["send", "recv", "drop"] {
        assert_eq!(count(&events, kind), 0, "{kind} recorded with --trace ops");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn loss_drops_messages_with_reason_loss() {
    let (dir, events) = short_run("loss", &["--loss", "0.2", "--delay-ms", "1"]);
    let sent = count(&events, "send");
    let lost = events.iter().filter(|e| e["type"] == "drop" && e["reason"] == "loss").count();
    assert!(
        lost * 100 > sent * 5,
        "about a fifth of the messages between nodes must be lost: {lost} of {sent}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn wait_for_events(run_root: &Path, min_lines: usize) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(run) = std::fs::canonicalize(run_root.join("latest")) {
            let lines =
                std::fs::read_to_string(run.join("history.jsonl")).map(|t| t.lines().count()).unwrap_or(0);
            if lines >= min_lines {
                return run;
            }
        }
        assert!(Instant::now() < deadline, "the run never got going");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start(args: &[&str]) -> Child {
    synod().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

#[test]
fn sigkilled_controller_leaves_no_node_and_a_readable_history() {
    let dir = runs_dir("sigkill");
    let mut ctl = start(&["run", "--nodes", "5", "--time", "60", "--runs-dir", dir.to_str().unwrap(), "-q"]);
    let run = wait_for_events(&dir, 2_000);
    ctl.kill().unwrap(); // SIGKILL: no cleanup code runs
    ctl.wait().unwrap();
    let killed_at = Instant::now();
    let events = history(&run, true);
    let pids = node_pids(&events);
    assert_eq!(pids.len(), 5);
    while pids.iter().any(|&p| alive(p)) {
        assert!(
            killed_at.elapsed() < Duration::from_secs(2),
            "nodes outlived the controller by 2 s: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(count(&events, "invoke") > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigint_heals_stops_nodes_and_checks() {
    let dir = runs_dir("sigint");
    let mut ctl = start(&["run", "--nodes", "3", "--time", "60", "--runs-dir", dir.to_str().unwrap(), "-q"]);
    let run = wait_for_events(&dir, 1_000);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(ctl.id() as i32), nix::sys::signal::Signal::SIGINT)
        .unwrap();
    let status = ctl.wait().unwrap();
    let events = history(&run, false);
    assert_eq!(events.last().unwrap()["type"], "end");
    assert_eq!(events.last().unwrap()["interrupted"], true);
    assert!(run.join("report.json").exists());
    // Interrupted mid-workload: safe (0), or safe but not live (3); never unsafe.
    assert!(matches!(status.code(), Some(0) | Some(3)), "{status:?}");
    for pid in node_pids(&events) {
        assert!(!alive(pid), "node pid {pid} outlived the run");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_runs_side_by_side_share_nothing() {
    let dir = runs_dir("twins");
    let d = dir.to_str().unwrap();
    let args = ["run", "--nodes", "3", "--time", "2", "--runs-dir", d, "-q"];
    let mut a = start(&args);
    let mut b = start(&args);
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.ends_with("latest"))
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let (ha, hb) = (history(&runs[0], false), history(&runs[1], false));
    assert_ne!(ha[0]["run_id"], hb[0]["run_id"]);
    let pa = node_pids(&ha);
    assert!(node_pids(&hb).iter().all(|p| !pa.contains(p)));
    // Each run's learned values are the ones its own workload invoked.
    for h in [&ha, &hb] {
        let invoked: std::collections::HashSet<&str> =
            h.iter().filter(|e| e["type"] == "invoke").map(|e| e["value"].as_str().unwrap()).collect();
        assert!(h
            .iter()
            .filter(|e| e["type"] == "learn")
            .all(|e| invoked.contains(e["value"].as_str().unwrap())));
        assert!(count(h, "learn") > 0);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_flags_exit_2_with_a_clear_error() {
    let out = synod().args(["run", "--acceptors", "n9", "--nodes", "3"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--acceptors") && err.contains("outside n1..n3"), "{err}");
    let out = synod().args(["check", "/nonexistent/history.jsonl"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
