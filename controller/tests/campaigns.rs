//! Soak campaigns the way they run remotely, on one machine (docs/campaigns.md): N `synod`
//! processes, one per shard of a soak with the same seed, started at once as a scheduler would
//! start them, then `synod merge` of their folders, compared with the unsharded soak. Also:
//! a shard given twice is counted once, a missing shard is reported, `--shard-from-env` reads
//! both schedulers' variables, and the deploy manifests hold what the schedulers need. Every
//! child is waited for (`output()` or `wait_with_output()`).

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The scheduler variables a test must not inherit (a CI runner may itself be a pod).
const SCHEDULER_VARS: [&str; 6] = [
    "JOB_COMPLETION_INDEX",
    "SYNOD_SHARDS",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_STEP",
    "SLURM_ARRAY_TASK_COUNT",
];

fn clean() -> Command {
    let mut c = synod();
    for v in SCHEDULER_VARS {
        c.env_remove(v);
    }
    c
}

fn soak_json(dir: &Path, prefix: &str) -> Value {
    let soak = folder_with_prefix(dir, prefix);
    serde_json::from_slice(&std::fs::read(soak.join("soak.json")).unwrap()).unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// (index, seed, verdict, faults drawn) of every run, in order.
fn runs(soak: &Value) -> Vec<(u64, u64, String, Value)> {
    soak["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["seed"].as_u64().unwrap(),
                r["verdict"].as_str().unwrap().to_string(),
                r["nemesis"]["faults"].clone(),
            )
        })
        .collect()
}

/// Starts one process per shard (all at once, as a scheduler does), each with `env` from
/// `shard_env(k)`, and waits for all of them.
fn shards(
    base: &[&str],
    n: u64,
    dirs: &[PathBuf],
    shard_env: impl Fn(u64) -> Vec<(String, String)>,
) -> Vec<Output> {
    let children: Vec<_> = (1..=n)
        .map(|k| {
            let mut c = clean();
            c.args(base).args(["--runs-dir", dirs[(k - 1) as usize].to_str().unwrap()]);
            let env = shard_env(k);
            if env.is_empty() {
                c.args(["--shard", &format!("{k}/{n}")]);
            } else {
                c.arg("--shard-from-env").envs(env);
            }
            c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    children.into_iter().map(|c| c.wait_with_output().unwrap()).collect()
}

fn merge(dir: &Path, inputs: &[&Path]) -> (Output, Value) {
    let out_dir = dir.join("merged");
    let _ = std::fs::remove_dir_all(&out_dir);
    let mut c = clean();
    c.arg("merge").args(inputs).args(["--runs-dir", out_dir.to_str().unwrap()]);
    let out = c.output().unwrap();
    let merged = soak_json(&out_dir, "campaign-");
    (out, merged)
}

/// Totals without `pruned_bytes` (run ids, and so meta.json sizes, differ between soaks).
fn totals(soak: &Value) -> Value {
    let mut t = soak["totals"].clone();
    t.as_object_mut().unwrap().remove("pruned_bytes");
    t
}

/// Item 4 with simulated runs (byte-for-byte deterministic, so everything must match, down to
/// each run's decisions): three shard processes, one given `--shard K/N`, one a Kubernetes
/// Indexed Job's variables, one a Slurm array's (1-based), merged; then the merge's edge cases.
#[test]
fn three_simulated_shards_merge_into_the_unsharded_soak() {
    let dir = runs_dir("campaign-sim");
    let base = ["sim", "--runs", "7", "--time", "1", "--nodes", "3", "--seed", "11", "-q"];
    let whole_dir = dir.join("whole");
    let out = clean().args(base).args(["--runs-dir", whole_dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 3), "{}", String::from_utf8_lossy(&out.stderr));
    let whole = soak_json(&whole_dir, "soak-");
    assert_eq!(whole["runs"].as_array().unwrap().len(), 7, "{}", stdout(&out));

    let dirs: Vec<PathBuf> = (1..=3).map(|k| dir.join(format!("shard-{k}"))).collect();
    let outs = shards(&base, 3, &dirs, |k| match k {
        2 => vec![("JOB_COMPLETION_INDEX".into(), "1".into()), ("SYNOD_SHARDS".into(), "3".into())],
        3 => [("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "3")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        _ => vec![],
    });
    for (k, (o, d)) in outs.iter().zip(&dirs).enumerate() {
        assert!(
            o.status.code().is_some_and(|c| c <= 3),
            "shard {}: {}",
            k + 1,
            String::from_utf8_lossy(&o.stderr)
        );
        let s = soak_json(d, "soak-");
        assert_eq!(s["shard"], serde_json::json!({"k": k + 1, "n": 3}));
        let mine: Vec<u64> = runs(&s).iter().map(|r| r.0).collect();
        let want: Vec<u64> = (1..=7).filter(|i| (i - 1) % 3 == k as u64).collect();
        assert_eq!(mine, want, "shard {}", k + 1);
    }

    let inputs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let (out, merged) = merge(&dir, &inputs);
    assert!(out.status.code().is_some_and(|c| c == whole_exit(&whole)), "{}", stdout(&out));
    assert_eq!(runs(&merged), runs(&whole), "run seeds, verdicts and draws");
    assert_eq!(totals(&merged), totals(&whole));
    let decisions =
        |s: &Value| s["runs"].as_array().unwrap().iter().map(|r| r["decisions"].clone()).collect::<Vec<_>>();
    assert_eq!(decisions(&merged), decisions(&whole));
    let text = stdout(&out);
    assert!(
        text.contains("shards merged: 3 of 3") && !text.contains("DUPLICATE") && !text.contains("MISSING"),
        "{text}"
    );
    assert!(text.contains(&format!("runs 7   decisions {}", whole["totals"]["decisions"])), "{text}");

    // `synod ls` and `synod compare` over the merged set: every run, found in its shard folder.
    let campaign = folder_with_prefix(&dir.join("merged"), "campaign-");
    let ls = clean().args(["ls", campaign.to_str().unwrap()]).output().unwrap();
    assert_exit(&ls, 0);
    let listed = stdout(&ls);
    assert_eq!(listed.lines().count(), 8, "{listed}");
    for (_, seed, _, _) in runs(&whole) {
        assert!(listed.contains(&seed.to_string()), "seed {seed} not listed:\n{listed}");
    }
    let compare = clean().args(["compare", campaign.to_str().unwrap()]).output().unwrap();
    assert_exit(&compare, 0);
    assert_eq!(stdout(&compare).lines().count(), 8, "{}", stdout(&compare));
    // Each replay command names the run's folder here, in its shard's folder.
    for r in merged["runs"].as_array().unwrap() {
        let replay = r["replay"].as_str().unwrap();
        let path = replay.strip_prefix("synod sim --replay ").unwrap();
        assert!(Path::new(path).join("meta.json").is_file() && path.contains("/shard-"), "{replay}");
    }

    // Two copies of one shard (shard 1 copied whole): reported, counted once.
    let copy = dir.join("copy-of-shard-1");
    copy_dir(&dirs[0], &copy);
    let (out, twice) = merge(&dir, &[&dirs[0], &dirs[1], &dirs[2], &copy]);
    let text = stdout(&out);
    assert!(
        text.contains("DUPLICATE shard 1/3 in") && text.contains("a copy of the folder counted"),
        "{text}"
    );
    assert_eq!(totals(&twice), totals(&whole), "{text}");
    assert_eq!(twice["merged"]["duplicates"].as_array().unwrap().len(), 1);
    assert!(out.status.code().is_some_and(|c| c == whole_exit(&whole)), "{text}");

    // A shard that never came back: reported by number, with the runs it held; exit 2.
    let (out, partial) = merge(&dir, &[&dirs[0], &dirs[2]]);
    let text = stdout(&out);
    assert!(text.contains("MISSING shards: 2/3") && text.contains("MISSING runs 2, 5"), "{text}");
    assert_eq!(partial["totals"]["runs"], 5);
    if whole["totals"]["safety_violations"] == 0 {
        assert_exit(&out, 2);
    }

    // Shards of another soak (another seed) are refused.
    let other = dir.join("other");
    let o = clean()
        .args(["sim", "--runs", "7", "--time", "1", "--nodes", "3", "--seed", "12", "-q", "--shard", "2/3"])
        .args(["--runs-dir", other.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.code().is_some_and(|c| c <= 3));
    let o = clean()
        .arg("merge")
        .args([&dirs[0], &other])
        .args(["--runs-dir", dir.join("refused").to_str().unwrap()])
        .output()
        .unwrap();
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("are not shards of one campaign (seed: 11 vs 12)"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What a soak (or a merge) exits with for these totals.
fn whole_exit(soak: &Value) -> i32 {
    let t = &soak["totals"];
    if t["safety_violations"] != 0 {
        1
    } else if t["liveness_failures"] != 0 {
        3
    } else {
        0
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let status =
        Command::new("cp").args(["-a", from.to_str().unwrap(), to.to_str().unwrap()]).status().unwrap();
    assert!(status.success());
}

/// The acceptance, with real processes: `synod soak --seed 5 --runs 4 --time-per-run 3`
/// and the merge of its shards 1/2 and 2/2 (run at once) list the same four run seeds and the
/// same totals. Decisions and fault actions hang on timing with processes, so the totals
/// compared are those that do not: runs, unsafe and not-live runs, runs with each fault.
#[test]
fn two_shards_of_a_soak_of_processes_are_its_four_runs() {
    let dir = runs_dir("campaign-processes");
    let base = ["soak", "--seed", "5", "--runs", "4", "--time-per-run", "3", "-q"];
    let whole_dir = dir.join("whole");
    let out = clean().args(base).args(["--runs-dir", whole_dir.to_str().unwrap()]).output().unwrap();
    assert_exit(&out, 0);
    let whole = soak_json(&whole_dir, "soak-");
    let dirs: Vec<PathBuf> = (1..=2).map(|k| dir.join(format!("shard-{k}"))).collect();
    for o in shards(&base, 2, &dirs, |_| vec![]) {
        assert_exit(&o, 0);
    }
    let inputs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let (out, merged) = merge(&dir, &inputs);
    assert_exit(&out, 0);
    let seeds = |s: &Value| runs(s).into_iter().map(|r| (r.0, r.1, r.2, r.3)).collect::<Vec<_>>();
    assert_eq!(seeds(&merged), seeds(&whole));
    assert_eq!(merged["runs"].as_array().unwrap().len(), 4);
    for key in ["runs", "safety_violations", "liveness_failures", "runs_with"] {
        assert_eq!(merged["totals"][key], whole["totals"][key], "{key}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--shard-from-env` without a scheduler, or with bad values, exits 2 before any run, saying
/// which variable; `--shard` takes K/N only; `synod run` has no shards.
#[test]
fn bad_shards_are_refused_before_any_run() {
    let dir = runs_dir("campaign-bad");
    let d = dir.to_str().unwrap();
    let soak = ["soak", "--runs", "2", "--time-per-run", "1", "-q", "--runs-dir", d];
    // (flags, environment, what stderr must say)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (vec!["--shard-from-env"], vec![], "neither JOB_COMPLETION_INDEX"),
        (vec!["--shard-from-env"], vec![("JOB_COMPLETION_INDEX", "2")], "SYNOD_SHARDS is not set"),
        (
            vec!["--shard-from-env"],
            vec![("JOB_COMPLETION_INDEX", "2"), ("SYNOD_SHARDS", "2")],
            "JOB_COMPLETION_INDEX=2 (0-based) with SYNOD_SHARDS=2",
        ),
        (
            vec!["--shard-from-env"],
            vec![("JOB_COMPLETION_INDEX", "one"), ("SYNOD_SHARDS", "2")],
            "JOB_COMPLETION_INDEX=`one` is not a whole number",
        ),
        (
            vec!["--shard-from-env"],
            vec![
                ("SLURM_ARRAY_TASK_ID", "5"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ],
            "use a plain range",
        ),
        (vec!["--shard-from-env"], vec![("SLURM_ARRAY_TASK_ID", "1")], "SLURM_ARRAY_TASK_COUNT is not set"),
        (vec!["--shard", "3/2"], vec![], "must be K/N"),
        (vec!["--shard", "1/2", "--shard-from-env"], vec![], "cannot be used with"),
    ];
    for (flags, env, want) in cases {
        let out = clean().args(soak).args(&flags).envs(env.iter().copied()).output().unwrap();
        assert_exit(&out, 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{flags:?} {env:?}: {err}");
    }
    let out = clean()
        .args(["sim", "--seed", "1", "--time", "1", "--shard", "1/2", "-q", "--runs-dir", d])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--shard: only for a swarm"));
    assert!(!dir.exists() || std::fs::read_dir(&dir).unwrap().next().is_none(), "no run started");
    let _ = std::fs::remove_dir_all(&dir);
}

fn repo_file(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The manifests hold what the schedulers need (read as text: no YAML crate for one test; with
/// python3's yaml at hand the manifest is parsed too). The Dockerfile is not built here.
#[test]
fn the_deploy_manifests_say_what_the_schedulers_need() {
    let job = repo_file("deploy/k8s/soak-job.yaml");
    for key in [
        "kind: Job",
        "completionMode: Indexed",
        "parallelism:",
        "completions: 50",
        "limits:",
        "cpu:",
        "memory:",
        "--shard-from-env",
        "name: SYNOD_SHARDS",
        "value: \"50\"",
    ] {
        assert!(job.contains(key), "soak-job.yaml lacks `{key}`");
    }
    let parsed = Command::new("python3")
        .args(["-c", "import sys, yaml; d = next(yaml.safe_load_all(open(sys.argv[1]))); s = d['spec']; c = s['template']['spec']['containers'][0]; env = {e['name']: e['value'] for e in c['env']}; assert d['kind'] == 'Job' and s['completionMode'] == 'Indexed'; assert env['SYNOD_SHARDS'] == str(s['completions']), 'SYNOD_SHARDS must equal completions'; assert c['resources']['limits']['cpu'] and s['parallelism'] <= s['completions']; print('parsed')"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/k8s/soak-job.yaml"))
        .output();
    if let Ok(out) = parsed {
        let err = String::from_utf8_lossy(&out.stderr);
        // Without python3's yaml module the text checks above stand alone.
        if !err.contains("No module named 'yaml'") {
            assert!(out.status.success() && stdout(&out).contains("parsed"), "{err}");
        }
    }
    let sbatch = repo_file("deploy/slurm/soak.sbatch");
    for key in [
        "#!/bin/bash",
        "#SBATCH --array=",
        "#SBATCH --cpus-per-task=",
        "--shard-from-env",
        "SLURM_ARRAY_TASK_ID",
    ] {
        assert!(sbatch.contains(key), "soak.sbatch lacks `{key}`");
    }
    let docker = repo_file("deploy/Dockerfile");
    assert_eq!(docker.matches("\nFROM ").count(), 2, "a two-stage build");
    for key in [" AS build", "COPY --from=build", "\nUSER ", "VOLUME", "ENTRYPOINT [\"synod\"]"] {
        assert!(docker.contains(key), "Dockerfile lacks `{key}`");
    }
    assert!(!docker.contains("USER root") && !docker.contains("USER 0"), "the image runs as a non-root user");
}
