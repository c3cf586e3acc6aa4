//! Simulated soaks end to end, through the `synod` binary: `synod sim --replay` writes a
//! simulated run's history again byte for byte from its meta.json alone, `synod sim --runs N`
//! is a soak whose passing runs keep no history and whose failure prints its replay command,
//! and `synod mutants --sim` catches mutants. Simulated runs spawn no process: the only child
//! of each test is the `synod` it runs, waited for by `output()`.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn soak_json(dir: &Path) -> Value {
    let soak = folder_with_prefix(dir, "soak-");
    serde_json::from_slice(&std::fs::read(soak.join("soak.json")).unwrap()).unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The run folder `runs/latest` names.
fn latest(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir.join("latest")).unwrap()
}

/// `synod sim --replay RUN` on `run`; the folder of the replay.
fn replay(dir: &Path, run: &Path) -> PathBuf {
    let out = synod().args(["sim", "--replay", run.to_str().unwrap(), "-q"]).output().unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&out.stderr));
    let replayed = latest(dir);
    assert_ne!(replayed, std::fs::canonicalize(run).unwrap(), "the replay is a run of its own");
    replayed
}

/// A simulated run replays to the byte from its meta.json: a generated schedule is drawn again
/// from the config and seed, a `--schedule FILE` one read back from the run's schedule.jsonl.
/// A run of processes is refused, pointing to `synod run --replay`; so are other flags.
#[test]
fn a_replayed_simulation_writes_the_same_history_byte_for_byte() {
    let dir = runs_dir("sim-replay");
    let d = dir.to_str().unwrap();
    let out = synod().args(["sim", "--seed", "7", "--time", "1.5", "--runs-dir", d, "-q"]).output().unwrap();
    assert_exit(&out, 0);
    let original = latest(&dir);
    let again = replay(&dir, &original);
    let (a, cut_a) = history_bytes(&original);
    let (b, cut_b) = history_bytes(&again);
    assert!(!cut_a && !cut_b && a.len() > 10_000, "{} bytes", a.len());
    assert!(a == b, "the replay's history differs from the original's");
    let meta: Value = serde_json::from_slice(&std::fs::read(again.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["simulated"], true);

    // A scripted schedule (here the first run's own, as a file): replayed from schedule.jsonl.
    let script = dir.join("script.jsonl");
    std::fs::copy(original.join("schedule.jsonl"), &script).unwrap();
    let out = synod()
        .args([
            "sim",
            "--seed",
            "8",
            "--time",
            "1.5",
            "--schedule",
            script.to_str().unwrap(),
            "--runs-dir",
            d,
            "-q",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let scripted = latest(&dir);
    std::fs::remove_file(&script).unwrap(); // the replay must not need it
    let again = replay(&dir, &scripted);
    assert!(history_bytes(&scripted).0 == history_bytes(&again).0, "the scripted replay differs");
    assert!(history_bytes(&scripted).0 != a, "another seed, another history");

    // A run of processes (meta.json without "simulated") is refused, naming the right command.
    let real = dir.join("real");
    std::fs::create_dir(&real).unwrap();
    let mut meta = meta;
    meta.as_object_mut().unwrap().remove("simulated");
    std::fs::write(real.join("meta.json"), serde_json::to_vec(&meta).unwrap()).unwrap();
    let out = synod().args(["sim", "--replay", real.to_str().unwrap()]).output().unwrap();
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a simulation") && err.contains("synod run --replay"), "{err}");
    let out = synod().args(["sim", "--replay", original.to_str().unwrap(), "--seed", "3"]).output().unwrap();
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be combined with --seed"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `synod sim --runs 3`: three simulated runs in a soak.json of the usual form, every passing
/// run without its history (meta.json, report.json and schedule.jsonl stay) and its replay
/// command a `synod sim --replay` that writes the history again.
#[test]
fn a_simulated_soak_keeps_no_passing_history_and_its_runs_replay() {
    let dir = runs_dir("sim-soak");
    let d = dir.to_str().unwrap();
    let out = synod()
        .args(["sim", "--runs", "3", "--time", "1", "--nodes", "3", "--seed", "2", "--runs-dir", d, "-q"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let summary = soak_json(&dir);
    assert_eq!(summary["keep"], "failing");
    assert_eq!(summary["simulated"], true);
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    let t = &summary["totals"];
    assert_eq!(t["runs"], 3);
    let decisions: u64 = runs.iter().map(|r| r["decisions"].as_u64().unwrap()).sum();
    assert!(decisions > 0);
    assert_eq!(t["decisions"], decisions);
    assert_eq!((t["safety_violations"].as_u64(), t["pruned_runs"].as_u64()), (Some(0), Some(3)));
    for r in runs {
        let path = PathBuf::from(r["path"].as_str().unwrap());
        assert_eq!(r["history"], "dropped", "{r}");
        assert_eq!(r["replay"], format!("synod sim --replay {}", path.display()));
        let mut names: Vec<String> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["meta.json", "pruned.json", "report.json", "schedule.jsonl"]);
    }
    let text = stdout(&out);
    assert!(text.contains("history dropped (--keep failing, ") && text.contains("synod sim --replay <run>"));
    // A dropped run comes back: its replay is judged as it was.
    let first = PathBuf::from(runs[0]["path"].as_str().unwrap());
    let again = replay(&dir, &first);
    let report = |run: &Path| -> Value {
        serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap()
    };
    assert_eq!(report(&again)["verdict"], "valid");
    assert_eq!(report(&again)["figures"], report(&first)["figures"]);
    // `ls` reads the soak's runs as ever.
    let out = synod().args(["ls", d]).output().unwrap();
    assert_exit(&out, 0);
    // A soak of processes cannot spare the run just judged: `failing` is refused there.
    for args in [vec!["soak", "--runs", "1"], vec!["mutants", "--only", "learn-on-one"]] {
        let out = synod().args(&args).args(["--keep", "failing", "--runs-dir", d]).output().unwrap();
        assert_exit(&out, 2);
        assert!(String::from_utf8_lossy(&out.stderr).contains("--keep failing: only for simulated runs"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A failing simulated soak stops at its first violation (exit 1), keeps that run's history,
/// and prints the command that replays it, which writes the same history again.
#[test]
fn a_simulated_soak_stops_at_a_violation_and_prints_its_replay() {
    let dir = runs_dir("sim-soak-bug");
    let d = dir.to_str().unwrap();
    let out = synod()
        .args([
            "sim",
            "--runs",
            "3",
            "--time",
            "1",
            "--bug",
            "learn-on-one",
            "--seed",
            "4",
            "--runs-dir",
            d,
            "-q",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 1);
    let summary = soak_json(&dir);
    let runs = summary["runs"].as_array().unwrap();
    let failing = runs.last().unwrap();
    assert_eq!(failing["safe"], false, "{failing}");
    assert!(runs[..runs.len() - 1].iter().all(|r| r["safe"] == true), "it stops at the first");
    assert_eq!(summary["totals"]["safety_violations"], 1);
    assert_eq!(failing["history"], "kept");
    assert!(failing["violated"].as_array().unwrap().contains(&Value::from("learned-only-if-chosen")));
    let path = PathBuf::from(failing["path"].as_str().unwrap());
    let command = format!("synod sim --replay {}", path.display());
    assert!(stdout(&out).contains(&format!("replay: {command}\n")), "{}", stdout(&out));
    let again = replay(&dir, &path);
    assert!(history_bytes(&path).0 == history_bytes(&again).0, "the failing run's replay differs");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `synod mutants --sim` on two quick mutants: both caught, with the rule each breaks, and
/// the correct protocol's simulated control soak safe.
#[test]
fn the_simulated_hunt_catches_quick_mutants() {
    let dir = runs_dir("sim-mutants");
    let d = dir.to_str().unwrap();
    let out = synod()
        .args(["mutants", "--sim", "--only", "learn-on-one,minority-quorum", "--budget-s", "20"])
        .args(["--time-per-run", "1", "--seed", "5", "--runs-dir", d, "-q"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let hunt = folder_with_prefix(&dir, "mutants-");
    let report: Value = serde_json::from_slice(&std::fs::read(hunt.join("mutants.json")).unwrap()).unwrap();
    assert_eq!(report["simulated"], true);
    assert_eq!(report["caught"], 2);
    let rules = |k: usize| report["hunts"][k]["rules"].as_array().unwrap().clone();
    assert_eq!(report["hunts"][0]["mutant"], "learn-on-one");
    assert!(rules(0).contains(&Value::from("learned-only-if-chosen")), "{:?}", rules(0));
    assert_eq!(report["hunts"][1]["mutant"], "minority-quorum");
    assert!(!rules(1).is_empty());
    for k in 0..2 {
        let replay = report["hunts"][k]["replay"].as_str().unwrap();
        assert!(replay.starts_with("synod sim --replay "), "{replay}");
    }
    assert_eq!(report["control"]["safety_violations"], 0);
    assert!(report["control"]["runs"].as_u64().unwrap() >= 1);
    assert!(stdout(&out).contains("mutant hunt (simulated, seed 5"), "{}", stdout(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}
