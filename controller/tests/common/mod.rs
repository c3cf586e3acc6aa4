//! Helpers shared by the end-to-end tests: run the `synod` binary, read histories, watch
//! processes.
#![allow(dead_code)]

use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn synod() -> Command {
    Command::new(env!("CARGO_BIN_EXE_synod"))
}

pub fn runs_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synod-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The history's text, read through the checker's opener (either form: `history.jsonl.zst`
/// or `history.jsonl`), as bytes, and whether a compressed stream was cut.
pub fn history_bytes(run: &Path) -> (Vec<u8>, bool) {
    let mut reader = synod_checker::history_file::open(run).unwrap_or_else(|e| panic!("{e}"));
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).unwrap_or_else(|e| panic!("{e}"));
    (bytes, reader.cut())
}

/// Every line of the history, parsed; panics naming the line if one does not parse.
/// `allow_torn_tail`: the last line may be incomplete (a SIGKILLed controller).
pub fn history(run: &Path, allow_torn_tail: bool) -> Vec<Value> {
    let (mut bytes, _) = history_bytes(run);
    if allow_torn_tail && !bytes.ends_with(b"\n") {
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(keep);
    }
    let text = String::from_utf8(bytes).unwrap();
    text.lines()
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {}: {e}: {l}", i + 1)))
        .collect()
}

/// The folder under `dir` whose name starts with `prefix` (a soak's or a hunt's).
pub fn folder_with_prefix(dir: &Path, prefix: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}* folder in {}", dir.display()))
}

pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["type"] == kind).count()
}

pub fn latest(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir.join("latest")).unwrap()
}

/// Whether `pid` is a live process (a zombie waiting to be reaped is dead).
pub fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

pub fn node_pids(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e["type"] == "process" && e["event"] == "up")
        .map(|e| e["pid"].as_u64().unwrap())
        .collect()
}

pub fn run_ok(args: &[&str]) -> Output {
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

/// A quiet 3-node, 1-second run with `extra` flags; returns its runs dir and its events.
pub fn short_run(name: &str, extra: &[&str]) -> (PathBuf, Vec<Value>) {
    let dir = runs_dir(name);
    let d = dir.to_str().unwrap().to_string();
    let mut args = vec!["run", "--nodes", "3", "--time", "1", "--runs-dir", &d, "-q"];
    args.extend_from_slice(extra);
    run_ok(&args);
    let events = history(&latest(&dir), false);
    (dir, events)
}

pub fn wait_for_events(run_root: &Path, min_lines: usize) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(run) = std::fs::canonicalize(run_root.join("latest")) {
            // The history may not be there yet, or hold nothing decodable yet.
            let lines = synod_checker::history_file::open(&run)
                .ok()
                .and_then(|mut r| {
                    let mut bytes = Vec::new();
                    r.read_to_end(&mut bytes).ok().map(|_| bytes.iter().filter(|&&b| b == b'\n').count())
                })
                .unwrap_or(0);
            if lines >= min_lines {
                return run;
            }
        }
        assert!(Instant::now() < deadline, "the run never got going");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn start(args: &[&str]) -> Child {
    synod().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

/// `--node-cmd` for tests/nodes/scripted.sh in `mode` (a node written outside synod).
pub fn scripted_node(mode: &str) -> String {
    format!("bash '{}/tests/nodes/scripted.sh' {mode}", env!("CARGO_MANIFEST_DIR"))
}

/// The `end` event of a history (its last line), or a panic naming what is there instead.
pub fn end_event(events: &[Value]) -> &Value {
    let last = events.last().expect("an empty history");
    assert_eq!(last["type"], "end", "the history does not end with `end`: {last}");
    last
}

/// Whether `python3` runs here (tests of tests/nodes/paxos.py skip without it).
pub fn python3_found() -> bool {
    Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// `--node-cmd` for tests/nodes/paxos.py, the Python Paxos node. `fsync: false` sets
/// `SYNOD_PY_FSYNC=0` in the command itself (so meta.json and replays keep it): the node writes
/// every record but never fsyncs, which only a power loss can catch.
pub fn python_node_cmd(fsync: bool) -> String {
    let env = if fsync { "" } else { "env SYNOD_PY_FSYNC=0 " };
    format!("{env}python3 '{}/tests/nodes/paxos.py'", env!("CARGO_MANIFEST_DIR"))
}

/// Waits (up to 5 s) until no filesystem is mounted under `dir`, and asserts it: a run's lazy
/// filesystems are gone after the run, even after a SIGKILLed controller (fusermount3's
/// auto-unmount then detaches them, a moment after the controller's death).
pub fn assert_no_mounts_under(dir: &Path) {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let prefix = dir.to_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let left: Vec<&str> = table.lines().filter(|l| l.contains(&prefix)).collect();
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "mounts left under {prefix} after 5 s: {left:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
