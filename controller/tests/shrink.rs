//! `synod shrink` through the library: a simulated learn-on-one run that breaks agreement is
//! shrunk, and the kept run breaks the same rule with at most 300 history events and at most
//! a tenth of the original's (issue 19's target), reads back with the checker, replays from
//! its own schedule.jsonl (which its history's run line names too), and leaves no scratch
//! folder behind. A non-unique-ballots run, which the one-change-at-a-time passes leave at a
//! fixed point above 300 events on 5 nodes, gets there through the tiny pass (several changes
//! at once, redrawn under many seeds). A volatile-acceptor run whose violation is a revisit
//! after a restart gets there by bringing the faults sooner. A real run is refused.

use std::path::{Path, PathBuf};
use synod_controller::plan::generated;
use synod_controller::progress::Progress;
use synod_controller::run::config::RunConfig;
use synod_controller::shrink::{shrink, ShrinkPlan};

fn temp_runs(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synod-shrink-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn simulate(cfg: RunConfig) -> synod_controller::run::RunOutcome {
    let (cfg, schedule) = generated(cfg).unwrap();
    let argv = ["synod".to_string(), "sim".to_string()];
    synod_controller::run::sim_once(cfg, schedule, &argv, &mut Progress::for_run(true), false).unwrap()
}

fn learn_on_one(runs: &Path, seed: u64) -> RunConfig {
    let mut cfg = RunConfig::defaults(5, seed);
    cfg.time_s = 2.0;
    cfg.tuning.bug = Some("learn-on-one".parse().unwrap());
    cfg.runs_dir = runs.to_path_buf();
    cfg.quiet = true;
    cfg
}

#[test]
fn a_learn_on_one_run_shrinks_to_a_screenful_breaking_the_same_rule() {
    let runs = temp_runs("learn-on-one");
    let original = simulate(learn_on_one(&runs, 1));
    let broken: Vec<&str> =
        original.report.safety.iter().filter(|r| !r.ok).map(|r| r.rule.as_str()).collect();
    assert!(broken.contains(&"agreement"), "the mutant is caught: {broken:?}");
    let shrunk = shrunk_to_a_screenful(&original, &runs, broken[0]);
    assert_eq!(shrunk.events_before, original.report.events);
    assert!(shrunk.runs > 1 && shrunk.accepted >= 1);

    // An ordinary run folder: the checker reads it and finds the same rule broken.
    assert!(shrunk.dir.starts_with(&runs) && shrunk.dir.join("meta.json").is_file());
    let report = synod_checker::check_path(&shrunk.dir).unwrap();
    assert_eq!(report.events, shrunk.events_after);
    assert!(report.safety.iter().any(|r| r.rule == shrunk.rule && !r.ok));
    assert!(shrunk.dir.join("report.json").is_file());
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shrunk.dir.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["simulated"], true);
    assert_eq!(meta["shrunk_from"]["rule"], shrunk.rule.as_str());
    let schedule_path = shrunk.dir.join("schedule.jsonl");
    assert_eq!(meta["config"]["schedule"]["path"], schedule_path.to_str().unwrap());
    assert_eq!(shrunk.replay, format!("synod sim --replay {}", shrunk.dir.display()));
    // So does the history's run line, and the runs dir it names is the kept run's.
    let run_line = first_line(&shrunk.dir);
    assert_eq!(run_line["type"], "run");
    assert_eq!(run_line["config"]["schedule"]["path"], schedule_path.to_str().unwrap());
    assert_eq!(run_line["config"]["runs_dir"], runs.to_str().unwrap());

    // The kept run replays as `synod sim --replay` plans it: the same events again.
    let (cfg, schedule) = synod_controller::plan::sim_replay_plan(&shrunk.dir, None, &runs).unwrap();
    let argv = ["synod".to_string(), "sim".to_string()];
    let again =
        synod_controller::run::sim_once(cfg, schedule, &argv, &mut Progress::for_run(true), false).unwrap();
    assert_eq!(again.report.events, shrunk.events_after);
    assert!(again.report.safety.iter().any(|r| r.rule == shrunk.rule && !r.ok));

    assert_no_scratch_left(&shrunk, &runs);
    std::fs::remove_dir_all(&runs).unwrap();
}

/// The first line of a run's history, as JSON.
fn first_line(dir: &Path) -> serde_json::Value {
    use std::io::BufRead;
    let mut reader = synod_checker::history_file::open(dir).unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap()
}

/// `original` shrunk (budget 240 s): it still breaks `rule`, with at most 300 events and at
/// most a tenth of the original's (issue 19's target).
fn shrunk_to_a_screenful(
    original: &synod_controller::run::RunOutcome,
    runs: &Path,
    rule: &str,
) -> synod_controller::shrink::Shrunk {
    let plan = ShrinkPlan {
        run: original.run_dir.clone(),
        runs_dir: runs.to_path_buf(),
        quiet: true,
        budget_s: 240.0,
    };
    let shrunk = shrink(&plan).unwrap();
    assert_eq!(shrunk.rule, rule);
    assert!(shrunk.events_after <= 300, "{} events", shrunk.events_after);
    assert!(
        shrunk.events_after * 10 <= shrunk.events_before,
        "{} of {}",
        shrunk.events_after,
        shrunk.events_before
    );
    shrunk
}

/// The shrink's scratch folder is gone, and none is left in the runs dir.
fn assert_no_scratch_left(shrunk: &synod_controller::shrink::Shrunk, runs: &Path) {
    assert!(!shrunk.scratch.exists(), "{} is left", shrunk.scratch.display());
    let prefix = synod_controller::shrink::scratch::PREFIX;
    let left: Vec<String> = std::fs::read_dir(runs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// non-unique-ballots, seed 1, 5 s: the passes that change one thing at a time stop at a
/// fixed point of 305 events (5 nodes, 3 proposers; measured before the tiny pass); the
/// tiny pass finds it on 3 nodes with 2 proposers, under another seed.
#[test]
fn the_tiny_pass_takes_a_fixed_point_below_300_events_on_fewer_nodes() {
    let runs = temp_runs("non-unique-ballots");
    let mut cfg = learn_on_one(&runs, 1);
    cfg.time_s = 5.0;
    cfg.tuning.bug = Some("non-unique-ballots".parse().unwrap());
    let original = simulate(cfg);
    let broken: Vec<&str> =
        original.report.safety.iter().filter(|r| !r.ok).map(|r| r.rule.as_str()).collect();
    assert_eq!(broken.first(), Some(&"agreement"), "{broken:?}");
    let shrunk = shrunk_to_a_screenful(&original, &runs, "agreement");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shrunk.dir.join("meta.json")).unwrap()).unwrap();
    assert!(meta["config"]["nodes"].as_u64().unwrap() < 5, "{}", meta["config"]);
    assert_no_scratch_left(&shrunk, &runs);
    std::fs::remove_dir_all(&runs).unwrap();
}

/// volatile-acceptor as `synod mutants --sim` draws its runs (0.5 s, contention 4, revisits
/// 0.3), seed 3: the violation is a revisit, after a restart, of an instance the node forgot.
/// The passes used to stop at 2,361 events: each instance before the kill adds events, and
/// no pass could bring the kill sooner; the schedule's times are now halved (the `sooner`
/// pass) and times cut in hundredths of a second.
#[test]
fn a_revisit_after_a_restart_shrinks_by_bringing_the_faults_sooner() {
    let runs = temp_runs("volatile-acceptor");
    let mut cfg = learn_on_one(&runs, 3);
    cfg.time_s = 0.5;
    cfg.contention = 4;
    cfg.revisit = 0.3;
    cfg.tuning.bug = Some("volatile-acceptor".parse().unwrap());
    let original = simulate(cfg);
    assert!(original.report.safety.iter().any(|r| r.rule == "agreement" && !r.ok), "the mutant is caught");
    let shrunk = shrunk_to_a_screenful(&original, &runs, "agreement");
    assert_no_scratch_left(&shrunk, &runs);
    std::fs::remove_dir_all(&runs).unwrap();
}

/// A run that is not simulated cannot be replayed exactly, so it is refused, saying why.
#[test]
fn a_real_run_and_a_passing_run_are_refused() {
    let runs = temp_runs("refused");
    let passing = simulate(RunConfig { time_s: 0.5, ..learn_on_one(&runs, 1) }.without_bug());
    let plan =
        ShrinkPlan { run: passing.run_dir.clone(), runs_dir: runs.clone(), quiet: true, budget_s: 10.0 };
    let e = format!("{:#}", shrink(&plan).unwrap_err());
    assert!(e.contains("breaks no safety rule"), "{e}");

    let meta_path = passing.run_dir.join("meta.json");
    let mut meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    meta.as_object_mut().unwrap().remove("simulated");
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
    let e = format!("{:#}", shrink(&plan).unwrap_err());
    assert!(e.contains("not a simulated run"), "{e}");

    let missing = ShrinkPlan { run: runs.join("nope"), ..plan };
    let e = format!("{:#}", shrink(&missing).unwrap_err());
    assert!(e.contains("nope") && e.contains("meta.json"), "{e}");
    std::fs::remove_dir_all(&runs).unwrap();
}

trait WithoutBug {
    fn without_bug(self) -> Self;
}

impl WithoutBug for RunConfig {
    fn without_bug(mut self) -> RunConfig {
        self.tuning.bug = None;
        self
    }
}
