//! Starting a run in-process and reading it back: a run dir of the test's own, a config from
//! `RunConfig::defaults`, the run on the calling thread through `run_once_embedded`, its
//! history as typed events, and the check that the run left no process behind.

use anyhow::Result;
use serde_json::Value;
use std::path::{Path, PathBuf};
use synod_checker::history::{End, Event, Events, Process};
use synod_controller::nemesis::{self, FaultKind, Schedule};
use synod_controller::progress::Progress;
use synod_controller::run::config::RunConfig;
use synod_controller::run::{run_once_embedded, RunOutcome};

/// A test's runs dir, under the temp dir; emptied when made. Removed by [`Runs::remove`] at
/// the end of a test that passed (a failed test leaves its runs to look at).
pub struct Runs {
    pub dir: PathBuf,
}

impl Runs {
    pub fn new(name: &str) -> Runs {
        let dir = std::env::temp_dir().join(format!("synod-inproc-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Runs { dir }
    }

    /// The run `latest` points at (the last one started here).
    pub fn latest(&self) -> PathBuf {
        std::fs::canonicalize(self.dir.join("latest")).unwrap()
    }

    pub fn remove(self) {
        std::fs::remove_dir_all(&self.dir).unwrap();
    }
}

/// What `synod run --nodes N --time T --runs-dir DIR -q` plans, with a random seed (printed,
/// to reproduce a failure): `RunConfig::defaults`, and `--nemesis all` as the CLI takes it
/// here (without FUSE, `all` leaves the power faults out).
pub fn config(runs: &Runs, nodes: u32, time_s: f64) -> RunConfig {
    let seed = synod_controller::run::random_u64();
    println!("seed {seed}");
    let mut cfg = RunConfig::defaults(nodes, seed);
    cfg.runs_dir = runs.dir.clone();
    cfg.time_s = time_s;
    cfg.quiet = true;
    nemesis::check_power("all", &mut cfg.nemesis.faults, synod_controller::lazyfs::available).unwrap();
    cfg
}

/// `--nemesis TEXT` (a list of kinds, or `none`).
pub fn set_nemesis(cfg: &mut RunConfig, text: &str) {
    cfg.nemesis.faults = FaultKind::parse_list(text).unwrap();
}

/// Runs `cfg` with its generated schedule (see [`run_with`]).
pub fn run(cfg: RunConfig) -> Result<RunOutcome> {
    let schedule = synod_controller::plan::generated_schedule(&cfg).unwrap();
    run_with(cfg, schedule)
}

/// Runs `cfg` with `schedule` on this thread, and asserts that no process it started is
/// left when it returns. meta.json records [`command_line`] as the run's command line.
pub fn run_with(cfg: RunConfig, schedule: Schedule) -> Result<RunOutcome> {
    cfg.validate().unwrap_or_else(|e| panic!("{}", e.as_flag()));
    let synod = PathBuf::from(env!("CARGO_BIN_EXE_synod"));
    synod_controller::cluster::use_builtin_program(synod).unwrap();
    let outcome = run_once_embedded(cfg, schedule, &command_line(), &mut Progress::for_run(true));
    assert_no_children();
    outcome
}

/// The command line an in-process run records: the test binary and the test's name.
pub fn command_line() -> Vec<String> {
    let test = std::thread::current().name().unwrap_or("?").to_string();
    vec!["run_loop".to_string(), test]
}

/// The nodes (and whatever else a run spawns) are children of the thread that started the
/// run: none may be left, not even a zombie, once the run returned. Other tests' runs on
/// other threads have children of their own, so the thread's list is read, not the
/// process's.
pub fn assert_no_children() {
    let children = children_of(thread_id());
    assert!(children.is_empty(), "the run left child processes: {children:?}");
}

/// This thread's id (the kernel's, as in /proc/PID/task/TID).
pub fn thread_id() -> u64 {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    link.file_name().unwrap().to_str().unwrap().parse().unwrap()
}

/// The pids of the children of thread `tid` of this process, zombies included.
pub fn children_of(tid: u64) -> Vec<u64> {
    let path = format!("/proc/self/task/{tid}/children");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.split_whitespace().map(|pid| pid.parse().unwrap()).collect()
}

/// Every line of the run's history, typed; panics on a line that does not read, or a
/// history that does not end with a complete line.
pub fn events(run: &Path) -> Vec<Event<'static>> {
    let mut reader = Events::open(run).unwrap_or_else(|e| panic!("{}: {e}", run.display()));
    let mut out = Vec::new();
    while let Some(e) = reader.next() {
        out.push(e.unwrap_or_else(|e| panic!("{}: {e}", run.display())).into_owned());
    }
    assert!(!reader.torn(), "{}: a torn history", run.display());
    out
}

pub fn count(events: &[Event], kind: &str) -> usize {
    events.iter().filter(|e| e.kind() == kind).count()
}

/// The `end` event (the history's last line), or a panic saying what is there instead.
pub fn end<'e>(events: &'e [Event<'static>]) -> &'e End<'static> {
    match events.last() {
        Some(Event::End(end)) => end,
        other => panic!("the history does not end with `end`: {other:?}"),
    }
}

/// The pids of every node process the run started (restarts included).
pub fn node_pids(events: &[Event]) -> Vec<u64> {
    each!(events, Process).filter(|p: &&Process| p.event == "up").map(|p| p.pid.unwrap()).collect()
}

/// Every node process the run started is gone.
pub fn assert_nodes_gone(events: &[Event]) {
    let pids = node_pids(events);
    assert!(!pids.is_empty(), "no node was started");
    for pid in pids {
        assert!(!super::common::alive(pid), "node pid {pid} outlived the run");
    }
}

/// A JSON file of the run (meta.json, report.json).
pub fn json(run: &Path, file: &str) -> Value {
    let path = run.join(file);
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap()
}

/// The outcome's report is the one on disk, and its run is the one `latest` names.
pub fn assert_recorded(runs: &Runs, outcome: &RunOutcome) {
    assert_eq!(outcome.run_dir, runs.latest());
    assert_eq!(json(&outcome.run_dir, "report.json"), serde_json::to_value(&outcome.report).unwrap());
    let meta = json(&outcome.run_dir, "meta.json");
    assert_eq!(meta["run_id"], outcome.run_id.as_str());
    assert_eq!(meta["command_line"], serde_json::json!(command_line()));
}

/// The check sees a child of this thread until it is reaped, and no other thread's.
#[test]
fn the_child_check_sees_this_thread_s_children_only() {
    let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    let pid = u64::from(child.id());
    assert_eq!(children_of(thread_id()), vec![pid]);
    let other = std::thread::spawn(|| children_of(thread_id())).join().unwrap();
    assert!(other.is_empty(), "{other:?}");
    let caught = std::panic::catch_unwind(assert_no_children);
    child.kill().unwrap();
    assert!(caught.is_err(), "a live child went unseen");
    // Killed but not yet reaped: a zombie is still a child.
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(children_of(thread_id()), vec![pid]);
    child.wait().unwrap();
    assert_no_children();
}
