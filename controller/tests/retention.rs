//! A soak's retention (`--keep`), end to end: which run folders still hold their history,
//! what a pruned folder keeps, how `ls`, `show`, `check` and `report` speak of a pruned run,
//! and that a pruned run still replays (from its planned schedule).

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn soak_json(dir: &Path) -> Value {
    let soak = folder_with_prefix(dir, "soak-");
    serde_json::from_slice(&std::fs::read(soak.join("soak.json")).unwrap()).unwrap()
}

/// The names in a run folder, sorted.
fn names(run: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The rule, said independently of the code: every run that is not `valid` and the last
/// `last` valid runs keep their history; the other valid runs drop it.
fn expected_kept(runs: &[Value], last: usize) -> Vec<bool> {
    let valid: Vec<usize> = (0..runs.len()).filter(|&k| runs[k]["verdict"] == "valid").collect();
    let whole = &valid[valid.len().saturating_sub(last)..];
    (0..runs.len()).map(|k| runs[k]["verdict"] != "valid" || whole.contains(&k)).collect()
}

/// The timed actions of a schedule.jsonl: (microseconds after the workload's start, action).
fn planned(run: &Path) -> Vec<(u64, String)> {
    let text = std::fs::read_to_string(run.join("schedule.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|a| a.get("at_s").is_some())
        .map(|a| {
            ((a["at_s"].as_f64().unwrap() * 1e6).round() as u64, a["action"].as_str().unwrap().to_string())
        })
        .collect()
}

/// The nemesis actions a run's history recorded (not the final heal, not the kills a crash
/// point triggered: those carry `trigger`), timed from the workload's start.
fn recorded(events: &[Value]) -> Vec<(u64, String)> {
    let t0 = events.iter().find(|e| e["type"] == "phase").unwrap()["t"].as_u64().unwrap();
    events
        .iter()
        .filter(|e| e["type"] == "nemesis" && e["final"] != true && e.get("trigger").is_none())
        .map(|e| (e["t"].as_u64().unwrap() - t0, e["action"].as_str().unwrap().to_string()))
        .collect()
}

/// Checks soak.json, the run folders and `synod ls` against `kept` (one a run, in order).
fn assert_retained(dir: &Path, runs: &[Value], kept: &[bool]) {
    assert_eq!(runs.len(), kept.len());
    let ls = String::from_utf8_lossy(&run_ok(&["ls", dir.to_str().unwrap()]).stdout).to_string();
    for (r, &keep) in runs.iter().zip(kept) {
        let run = PathBuf::from(r["path"].as_str().unwrap());
        let state = if keep { "kept" } else { "dropped" };
        assert_eq!(r["history"], state, "run {}: {r}", r["index"]);
        assert!(r["replay"].as_str().unwrap().starts_with("synod run --replay "));
        let line = ls.lines().find(|l| l.contains(r["run_id"].as_str().unwrap())).unwrap();
        assert!(line.ends_with(&format!(" {state}")), "{line}");
        if keep {
            assert!(
                run.join("history.jsonl.zst").is_file() && run.join("nodes").is_dir(),
                "{}",
                run.display()
            );
            assert!(!run.join("pruned.json").exists());
        } else {
            assert_eq!(names(&run), ["meta.json", "pruned.json", "report.json", "schedule.jsonl"]);
            let note: Value =
                serde_json::from_slice(&std::fs::read(run.join("pruned.json")).unwrap()).unwrap();
            assert_eq!(note["dropped"], serde_json::json!(["history.jsonl.zst", "nodes"]));
            assert!(note["dropped_bytes"].as_u64().unwrap() > 0);
        }
    }
    // The newest run (runs/latest) is always whole.
    let newest = PathBuf::from(runs.last().unwrap()["path"].as_str().unwrap());
    assert_eq!(std::fs::canonicalize(dir.join("latest")).unwrap(), newest);
}

/// The default policy on a clean soak: the passing runs older than the last three keep only
/// their summaries, pruned as the soak goes; `ls` marks them; the commands that need the
/// history say why it is gone (exit 2); and a pruned run replays its planned faults at their
/// times.
#[test]
fn the_default_prunes_passing_runs_older_than_the_last_three() {
    let dir = runs_dir("keep-default");
    let d = dir.to_str().unwrap();
    let out = synod()
        .args(["soak", "--runs", "6", "--time-per-run", "1", "--nodes", "3", "--nemesis-interval-s", "0.5"])
        .args(["--seed", "1", "--runs-dir", d, "-q"])
        .output()
        .unwrap();
    assert_exit(&out, 0); // every run valid
    let summary = soak_json(&dir);
    assert_eq!(summary["keep"], "last:3");
    let runs = summary["runs"].as_array().unwrap();
    assert_retained(&dir, runs, &[false, false, false, true, true, true]);
    assert_eq!(summary["totals"]["pruned_runs"], 3);
    // As the soak goes: run K is pruned when run K+3 is judged, before run K+4 starts.
    let mtime = |k: usize, file: &str| {
        std::fs::metadata(Path::new(runs[k]["path"].as_str().unwrap()).join(file))
            .unwrap()
            .modified()
            .unwrap()
    };
    for k in 0..2 {
        assert!(mtime(k, "pruned.json") <= mtime(k + 4, "meta.json"), "run {} pruned late", k + 1);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("history kept: runs 4-6\n"), "{text}");
    assert!(text.contains("history dropped (--keep last:3, ") && text.contains("): runs 1-3;"), "{text}");

    // The commands that read the history say why it is gone, and how to get the run back.
    let pruned = PathBuf::from(runs[0]["path"].as_str().unwrap());
    let p = pruned.to_str().unwrap();
    let h = pruned.join("history.jsonl.zst");
    let h = h.to_str().unwrap();
    for args in
        [vec!["show", p], vec!["check", p], vec!["check", h], vec!["report", p], vec!["show", p, "--events"]]
    {
        let out = synod().args(&args).output().unwrap();
        assert_exit(&out, 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no history: the retention of soak soak-"), "{args:?}: {err}");
        assert!(err.contains(&format!("synod run --replay {p}")), "{args:?}: {err}");
    }

    // The pruned run with the most planned actions replays them at their times.
    let k = (0..3).max_by_key(|&k| planned(Path::new(runs[k]["path"].as_str().unwrap())).len()).unwrap();
    let pruned = PathBuf::from(runs[k]["path"].as_str().unwrap());
    let plan = planned(&pruned);
    assert!(!plan.is_empty(), "no planned action in {}", pruned.display());
    let out =
        synod().args(["run", "--replay", pruned.to_str().unwrap(), "--runs-dir", d, "-q"]).output().unwrap();
    assert_exit(&out, 0); // the correct protocol, replayed
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("replaying the schedule the run planned (schedule.jsonl)"), "{err}");
    assert!(err.contains("not the kills and restarts its crash points triggered"), "{err}");
    let replay = latest(&dir);
    let meta: Value = serde_json::from_slice(&std::fs::read(replay.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["config"]["schedule"]["source"], "replay");
    assert_eq!(meta["config"]["seed"], runs[k]["seed"]);
    // Every planned action, in order, at its time; in between only what an armed crash
    // point does (a kill when its message comes, a restart after its down time).
    let done = recorded(&history(&replay, false));
    let mut rest = done.iter();
    for (t, a) in &plan {
        let at = rest
            .by_ref()
            .find(|(u, b)| {
                let hit = b == a && t.abs_diff(*u) < 150_000;
                assert!(hit || b == "kill" || b == "restart", "{b} at {u} us, not {a} at {t} us: {done:?}");
                hit
            })
            .is_some();
        assert!(at, "{a} at {t} us not replayed: {plan:?} vs {done:?}");
    }
    assert!(rest.all(|(_, b)| b == "kill" || b == "restart"), "{done:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keep_all_keeps_every_history() {
    let dir = runs_dir("keep-all");
    let d = dir.to_str().unwrap();
    let out = synod()
        .args(["soak", "--runs", "5", "--time-per-run", "1", "--nodes", "3", "--nemesis", "none"])
        .args(["--keep", "all", "--seed", "2", "--runs-dir", d, "-q"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let summary = soak_json(&dir);
    assert_eq!(summary["keep"], "all");
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    for r in runs {
        assert_eq!(r["history"], "kept", "{r}");
        let run = PathBuf::from(r["path"].as_str().unwrap());
        assert!(run.join("history.jsonl.zst").is_file() && !run.join("pruned.json").exists());
    }
    assert_eq!(summary["totals"]["pruned_runs"], 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("history kept: runs 1-5") && !text.contains("history dropped"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A failing run is never pruned, whatever the policy: a soak of a mutant that some runs
/// catch, under `last:1`, keeps every unsafe run whole (still checked as unsafe) and only
/// the newest passing run.
#[test]
fn failing_runs_keep_their_history_under_any_policy() {
    let dir = runs_dir("keep-failing");
    let d = dir.to_str().unwrap();
    let out = synod()
        .args(["soak", "--runs", "5", "--time-per-run", "1", "--nodes", "3", "--bug", "learn-on-one"])
        .args(["--keep-going", "--keep", "last:1", "--seed", "1", "--runs-dir", d, "-q"])
        .output()
        .unwrap();
    let summary = soak_json(&dir);
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5, "{summary}");
    let unsafe_runs: Vec<&Value> = runs.iter().filter(|r| r["safe"] == false).collect();
    assert!(!unsafe_runs.is_empty(), "learn-on-one was not caught in 5 runs: nothing failing to keep");
    assert_exit(&out, 1);
    assert_retained(&dir, runs, &expected_kept(runs, 1));
    for r in unsafe_runs {
        let out = synod().args(["check", r["path"].as_str().unwrap()]).output().unwrap();
        assert_exit(&out, 1);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Clap checks every flag before anything runs; were a bad value let through, the soak would
/// run one empty run and `mutants --list` would list: both exit 0, and the test fails.
#[test]
fn a_bad_keep_policy_is_refused_naming_the_flag() {
    let dir = runs_dir("keep-bad");
    let d = dir.to_str().unwrap();
    for bad in ["none", "last:0", "last:x", ""] {
        let soak = ["soak", "--runs", "1", "--time-per-run", "0", "--nemesis", "none", "--runs-dir", d, "-q"];
        for args in [&soak[..], &["mutants", "--list"][..]] {
            let out = synod().args(args).args(["--keep", bad]).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?} --keep {bad:?}: {err}");
            assert!(
                err.contains("'--keep <POLICY>'") && err.contains(&format!("`{bad}`: must be `default`")),
                "{err}"
            );
        }
    }
    assert!(!dir.exists(), "nothing ran");
}
