//! Power loss end to end: the lazy filesystem under real node processes. A node that writes
//! its state but never fsyncs it survives every SIGKILL (the page cache keeps its writes) and
//! must be caught by a power loss, the built-in `skip-fsync` mutant and a Python node alike;
//! the same nodes with fsync stay safe. Without FUSE, power faults are refused, never run as
//! plain kills.
//!
//! Tests that need FUSE print "skipped: <reason>" when the controller says it cannot mount
//! the lazy filesystem here (CI installs fuse3; a container needs /dev/fuse).

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// `examples/power-cut.jsonl`: n1's power cut (torn) right after its 300th promise, back at
/// 1 s; every node's power cut at 1.5 s, back at 2 s.
fn power_cut_schedule() -> String {
    format!("{}/../examples/power-cut.jsonl", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `synod run` with `args` into `dir`; `None` (after printing why) if FUSE is missing.
fn run_power(dir: &Path, args: &[&str]) -> Option<Output> {
    let d = dir.to_str().unwrap();
    let mut all = vec!["run", "--runs-dir", d, "-q"];
    all.extend_from_slice(args);
    let out = synod().args(&all).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let no_fuse = err.contains("needs the lazy filesystem") || err.contains("FUSE is not available");
    if out.status.code() == Some(2) && no_fuse {
        println!("skipped: {}", err.trim());
        return None;
    }
    Some(out)
}

/// A 3-node, 4-second run with seed 5 and `schedule`, plus `extra` flags.
fn args_with<'a>(schedule: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--nodes", "3", "--time", "4", "--seed", "5", "--schedule", schedule];
    args.extend_from_slice(extra);
    args
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or_else(|| panic!("synod died: {:?}", out.status))
}

fn explain(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// No mount of this run is left in the mount table, and the mountpoints are gone.
fn assert_unmounted(run: &Path, nodes: u32) {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let run_text = run.to_str().unwrap();
    assert!(!table.contains(run_text), "a mount of {run_text} is left:\n{table}");
    for n in 1..=nodes {
        let mnt: PathBuf = run.join(format!("nodes/n{n}/mnt"));
        assert!(!mnt.exists(), "{} is left behind", mnt.display());
    }
}

fn disk_events(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["type"] == "disk" && e["event"] == "power-loss").collect()
}

#[test]
fn a_correct_node_survives_power_losses_and_each_is_recorded() {
    let dir = runs_dir("power-correct");
    let schedule = power_cut_schedule();
    let Some(out) = run_power(&dir, &args_with(&schedule, &[])) else { return };
    assert_eq!(code(&out), 0, "{}", explain(&out));
    let run = latest(&dir);
    let events = history(&run, false);
    let cuts: Vec<&Value> =
        events.iter().filter(|e| e["type"] == "nemesis" && e["action"] == "power-loss-all").collect();
    assert_eq!(cuts.len(), 1, "one whole-cluster power cut");
    assert_eq!(cuts[0]["nodes"], serde_json::json!([1, 2, 3]));
    let triggered = events.iter().filter(|e| e["type"] == "nemesis" && e["action"] == "power-loss");
    let triggered: Vec<&Value> = triggered.collect();
    assert_eq!(triggered.len(), 1, "the trigger after n1's 300th promise fired once");
    assert_eq!(
        (&triggered[0]["nodes"], &triggered[0]["torn"]),
        (&serde_json::json!([1]), &Value::Bool(true))
    );
    // Each node's unsynced writes are dropped once, after its process has gone.
    let disks = disk_events(&events);
    assert!(disks.len() >= 3, "{disks:?}");
    for node in 1..=3u64 {
        let exit =
            events.iter().position(|e| e["type"] == "process" && e["event"] == "exit" && e["node"] == node);
        let lost = events.iter().position(|e| e["type"] == "disk" && e["node"] == node);
        assert!(exit.is_some() && lost.is_some() && exit < lost, "n{node}: writes dropped before its exit");
    }
    // The real files hold the node's durable log; the node saw them through the mount.
    for n in 1..=3 {
        let log = run.join(format!("nodes/n{n}/data/acceptor.log"));
        assert!(std::fs::metadata(&log).map(|m| m.len() > 8).unwrap_or(false), "{} empty", log.display());
        assert!(run.join(format!("nodes/n{n}/node.log")).is_file());
    }
    assert_unmounted(&run, 3);
    // A replay cuts the same power at the same times (the triggered cut becomes a timed one).
    let power_actions = |events: &[Value]| -> Vec<(String, Value)> {
        events
            .iter()
            .filter(|e| {
                e["type"] == "nemesis" && e["action"].as_str().unwrap_or("").starts_with("power-loss")
            })
            .map(|e| (e["action"].as_str().unwrap().to_string(), e["nodes"].clone()))
            .collect()
    };
    let recorded = power_actions(&events);
    let out = run_power(&dir, &["--replay", run.to_str().unwrap()]).expect("FUSE was there a moment ago");
    assert_eq!(code(&out), 0, "{}", explain(&out));
    let replayed = latest(&dir);
    assert_ne!(replayed, run);
    assert_eq!(power_actions(&history(&replayed, false)), recorded);
    assert_unmounted(&replayed, 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The acceptance: the `skip-fsync` mutant passes kills (the page cache keeps its writes) and
/// is caught by the same schedule with power cuts instead.
#[test]
fn skip_fsync_passes_kills_and_is_caught_by_a_power_loss() {
    let dir = runs_dir("power-skip-fsync");
    let schedule = power_cut_schedule();
    let Some(out) = run_power(&dir, &args_with(&schedule, &["--bug", "skip-fsync"])) else { return };
    assert_eq!(code(&out), 1, "skip-fsync under power loss must violate safety: {}", explain(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("SAFETY VIOLATED"), "{}", explain(&out));
    assert_unmounted(&latest(&dir), 3);
    // The same cuts as SIGKILLs: the page cache keeps every write, and the run is valid.
    let kills = dir.join("kill-all.jsonl");
    std::fs::write(
        &kills,
        "{\"at_s\": 1.5, \"action\": \"kill-all\"}\n{\"at_s\": 2.0, \"action\": \"restart\", \"nodes\": [1, 2, 3]}\n",
    )
    .unwrap();
    let out = run_power(&dir, &args_with(kills.to_str().unwrap(), &["--bug", "skip-fsync"]))
        .expect("kills need no FUSE");
    assert_eq!(code(&out), 0, "skip-fsync under SIGKILL keeps its writes: {}", explain(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Compaction under power cuts: nodes that retire decisions after 16 and rewrite their log
/// every 16 KiB, so that cuts land between and inside compactions, stay safe and live; the
/// `skip-fsync` mutant, whose compactions skip their syncs too, never passes: either its
/// acceptors forget and safety breaks, or a node finds an archive segment the cut tore and
/// refuses to start (exit 3 of the node, a run that is not live).
#[test]
fn compacting_nodes_survive_power_losses_and_skip_fsync_is_still_caught() {
    let dir = runs_dir("power-compaction");
    let schedule = power_cut_schedule();
    let small = ["--retain-decided", "16", "--compact-log-bytes", "16384"];
    let Some(out) = run_power(&dir, &args_with(&schedule, &small)) else { return };
    assert_eq!(code(&out), 0, "compacting nodes under power loss: {}", explain(&out));
    let run = latest(&dir);
    for n in 1..=3 {
        let log = std::fs::read_to_string(run.join(format!("nodes/n{n}/node.log"))).unwrap();
        assert!(log.matches("compacted the log").count() >= 3, "n{n} compacted: {log}");
    }
    let mut mutant = small.to_vec();
    mutant.extend(["--bug", "skip-fsync"]);
    let out = run_power(&dir, &args_with(&schedule, &mutant)).expect("FUSE was there a moment ago");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let refused = (1..=3).any(|n| {
        let log =
            std::fs::read_to_string(latest(&dir).join(format!("nodes/n{n}/node.log"))).unwrap_or_default();
        log.contains("corrupt archive segment") || log.contains("Refusing to start")
    });
    match code(&out) {
        1 => assert!(stdout.contains("SAFETY VIOLATED"), "{}", explain(&out)),
        3 => assert!(refused, "not live because a node refused its torn state: {}", explain(&out)),
        _ => panic!("skip-fsync with compaction under power loss must not pass: {}", explain(&out)),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A node of another language (tests/nodes/paxos.py) that writes but never fsyncs is caught;
/// the same node with fsync is safe under the same power cuts.
#[test]
fn a_python_node_without_fsync_is_caught_and_with_fsync_is_safe() {
    if !python3_found() {
        println!("skipped: python3 not found");
        return;
    }
    let dir = runs_dir("power-python");
    let schedule = power_cut_schedule();
    let unsynced = python_node_cmd(false);
    let Some(out) = run_power(&dir, &args_with(&schedule, &["--node-cmd", &unsynced])) else { return };
    assert_eq!(code(&out), 1, "paxos.py without fsync under power loss: {}", explain(&out));
    let synced = python_node_cmd(true);
    let out = run_power(&dir, &args_with(&schedule, &["--node-cmd", &synced]))
        .expect("FUSE was there a moment ago");
    assert_eq!(code(&out), 0, "paxos.py with fsync under power loss: {}", explain(&out));
    let events = history(&latest(&dir), false);
    assert!(disk_events(&events).len() >= 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without FUSE (`SYNOD_NO_FUSE` makes the probe fail, as a machine without /dev/fuse does):
/// naming a power fault is refused before the run starts, `all` leaves them out with a
/// warning, and a schedule that cuts power is refused too.
#[test]
fn without_fuse_power_faults_are_refused_or_left_out_never_faked() {
    let dir = runs_dir("power-nofuse");
    let d = dir.to_str().unwrap();
    // A quiet 3-node run into `dir` with FUSE turned off, plus `extra`.
    let no_fuse = |extra: &[&str]| {
        let mut args = vec!["run", "--runs-dir", d, "-q", "--nodes", "3"];
        args.extend_from_slice(extra);
        synod().env("SYNOD_NO_FUSE", "1").args(&args).output().unwrap()
    };
    let out = no_fuse(&["--time", "1", "--nemesis", "kill,power-loss"]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--nemesis: power-loss needs the lazy filesystem") && err.contains("SYNOD_NO_FUSE"),
        "{err}"
    );
    assert!(!dir.join("latest").exists(), "a refused run started anyway");

    let out = no_fuse(&["--time", "1", "--schedule", &power_cut_schedule()]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--schedule: the schedule cuts power"),
        "{}",
        explain(&out)
    );

    let out = no_fuse(&["--time", "2", "--nemesis", "all", "--seed", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("leaves out power-loss"), "{err}");
    let events = history(&latest(&dir), false);
    assert!(events.iter().any(|e| e["type"] == "nemesis"), "the other faults still ran");
    assert!(
        !events
            .iter()
            .any(|e| e["type"] == "nemesis" && e["action"].as_str().unwrap_or("").starts_with("power-loss")),
        "a power loss ran without FUSE"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--lazy-fs` puts the data dirs on the lazy filesystem without any power cut: the node's log
/// reaches nodes/n<k>/data through the mount, not nodes/n<k>.
#[test]
fn lazy_fs_mounts_the_data_dirs_without_power_faults() {
    let dir = runs_dir("power-lazyfs-flag");
    let Some(out) = run_power(&dir, &["--nodes", "3", "--time", "1", "--nemesis", "none", "--lazy-fs"])
    else {
        return;
    };
    assert_eq!(code(&out), 0, "{}", explain(&out));
    let run = latest(&dir);
    for n in 1..=3 {
        assert!(run.join(format!("nodes/n{n}/data/acceptor.log")).is_file(), "n{n}'s log is not in data/");
        assert!(!run.join(format!("nodes/n{n}/acceptor.log")).exists(), "n{n} wrote beside the mount");
    }
    assert!(disk_events(&history(&run, false)).is_empty(), "no power was cut");
    assert_unmounted(&run, 3);
    std::fs::remove_dir_all(&dir).unwrap();
}
