//! `synod compare RUN... | SOAK_DIR`: runs side by side, one row each: faults, mutant,
//! decisions, safety, liveness, decision latency (first learn) p50/p99 in calm and fault
//! windows, messages per decision, drops by reason. Reads only the runs' summaries.

use super::summary::{ms, RunInfo};
use crate::exit::Exit;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// What `compare` reads of a soak's soak.json: the folder of each run (the rest is ignored).
#[derive(Deserialize)]
struct SoakRuns {
    runs: Vec<SoakRun>,
}

#[derive(Deserialize)]
struct SoakRun {
    path: PathBuf,
}

pub fn compare(args: &[PathBuf], runs_dir: &Path) -> Result<Exit> {
    let mut runs = Vec::new();
    for arg in args {
        let path = crate::rundir::resolve(arg, runs_dir);
        for dir in run_dirs(&path)? {
            runs.push(RunInfo::load(&dir)?);
        }
    }
    if runs.is_empty() {
        bail!("nothing to compare: give run folders, or a soak folder");
    }
    print!("{}", render(&runs));
    Ok(Exit::Ok)
}

/// A run folder is itself; a soak's (or a hunt's soak's) folder lists its runs in soak.json.
pub fn run_dirs(path: &Path) -> Result<Vec<PathBuf>> {
    if path.join("meta.json").is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let soak = path.join(crate::soak::summary::SOAK_FILE);
    if soak.is_file() {
        let text =
            std::fs::read_to_string(&soak).with_context(|| format!("cannot read {}", soak.display()))?;
        let soak_runs: SoakRuns = serde_json::from_str(&text).with_context(|| {
            format!("{} is not a soak summary (`runs`, each with its `path`)", soak.display())
        })?;
        return Ok(soak_runs.runs.into_iter().map(|r| r.path).collect());
    }
    bail!("{}: neither a run folder (meta.json) nor a soak folder (soak.json)", path.display())
}

pub fn render(runs: &[RunInfo]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:<30} {:<22} {:>9} {:<8} {:<8} {:>15} {:>15} {:>7}  drops",
        "run",
        "faults",
        "mutant",
        "decisions",
        "safety",
        "liveness",
        "calm p50/p99",
        "fault p50/p99",
        "msg/dec"
    );
    for r in runs {
        let faults = super::summary::clip(&r.faults(), 30);
        let Some(rep) = &r.report else {
            let _ = writeln!(out, "{:<24} {:<30} {:<22} (no report.json)", r.run_id, faults, r.mutant());
            continue;
        };
        let f = &rep.figures;
        let lat = &f.decision_latency_first_learn;
        let pair = |l: &synod_checker::LatencySummary| {
            if l.count == 0 {
                "-".to_string()
            } else {
                format!("{}/{}", ms(Some(l.p50_us)), ms(Some(l.p99_us)))
            }
        };
        let safety = if rep.safe { "safe" } else { "UNSAFE" };
        let liveness = match rep.live {
            Some(true) => "live",
            Some(false) => "NOT LIVE",
            None if rep.aborted => "ABORTED",
            None => "-",
        };
        let drops: Vec<String> = f.drops.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            out,
            "{:<24} {:<30} {:<22} {:>9} {:<8} {:<8} {:>15} {:>15} {:>7.1}  {}",
            r.run_id,
            faults,
            r.mutant(),
            f.decisions,
            safety,
            liveness,
            pair(&lat.calm),
            pair(&lat.fault),
            f.messages_per_decision,
            if drops.is_empty() { "-".to_string() } else { drops.join(", ") }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::NemesisConfig;
    use serde_json::json;

    fn info(id: &str, faults: &str, bug: Option<&str>, history: &str) -> RunInfo {
        let nemesis = NemesisConfig {
            faults: crate::nemesis::FaultKind::parse_list(faults).unwrap(),
            ..NemesisConfig::default()
        };
        let config = json!({
            "nodes": 3, "acceptors": [1, 2, 3], "proposers": [1, 2, 3], "learners": [1, 2, 3],
            "node_cmd": null, "time_s": 1.0, "instances": null, "concurrency": 8, "contention": 2,
            "op_timeout_ms": 2000, "final_s": 10.0, "seed": 7, "runs_dir": "runs", "trace": "all",
            "nemesis": nemesis, "schedule": {"source": "generated"}, "tuning": {"bug": bug}, "bug_nodes": [1, 2, 3],
        });
        let report = synod_checker::check_reader(history.as_bytes(), id).unwrap();
        RunInfo {
            path: PathBuf::from(id),
            run_id: id.into(),
            started_at: "20261128T120000".into(),
            config: serde_json::from_value(config).unwrap(),
            report: Some(report),
            history: crate::pruned::HistoryState::Kept,
        }
    }

    const SAFE: &str = r#"{"type":"run","t":0,"run_id":"a","nodes":[1,2,3],"acceptors":[1,2,3],"proposers":[1,2,3],"learners":[1,2,3]}
{"type":"invoke","t":1000,"op":1,"node":1,"instance":1,"value":"v1"}
{"type":"send","t":1100,"msg":1,"src":1,"dest":2,"body":{"type":"prepare","instance":1,"ballot":[1,1]}}
{"type":"drop","t":1100,"msg":1,"reason":"loss"}
{"type":"send","t":2000,"msg":2,"src":1,"dest":1,"body":{"type":"accepted","instance":1,"ballot":[1,1],"value":"v1"}}
{"type":"send","t":2100,"msg":3,"src":2,"dest":1,"body":{"type":"accepted","instance":1,"ballot":[1,1],"value":"v1"}}
{"type":"ok","t":3000,"op":1,"node":1,"instance":1,"value":"v1"}
{"type":"learn","t":3000,"node":1,"instance":1,"value":"v1"}
{"type":"learn","t":3500,"node":2,"instance":1,"value":"v1"}
{"type":"learn","t":4000,"node":3,"instance":1,"value":"v1"}
{"type":"end","t":5000}
"#;

    const UNSAFE: &str = r#"{"type":"run","t":0,"run_id":"b","nodes":[1,2,3],"acceptors":[1,2,3],"proposers":[1,2,3],"learners":[1,2,3]}
{"type":"invoke","t":1000,"op":1,"node":1,"instance":1,"value":"v1"}
{"type":"invoke","t":1000,"op":2,"node":2,"instance":1,"value":"v2"}
{"type":"nemesis","t":1500,"action":"loss","p":0.2}
{"type":"learn","t":2000,"node":1,"instance":1,"value":"v1"}
{"type":"ok","t":2100,"op":1,"node":1,"instance":1,"value":"v1"}
{"type":"learn","t":2500,"node":2,"instance":1,"value":"v2"}
{"type":"learn","t":2600,"node":3,"instance":1,"value":"v2"}
{"type":"end","t":5000}
"#;

    /// A soak folder stands for the runs its soak.json lists; a run listed without its folder
    /// is an error naming the file, not a run left out.
    #[test]
    fn a_soak_folder_lists_its_runs() {
        let dir = std::env::temp_dir().join(format!("synod-compare-soak-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let soak = dir.join(crate::soak::summary::SOAK_FILE);
        let runs = r#"{"path": "s", "runs": [{"run_id": "a", "path": "s/a", "seed": 1}, {"path": "s/b"}]}"#;
        std::fs::write(&soak, runs).unwrap();
        let listed = run_dirs(&dir);
        std::fs::write(&soak, r#"{"runs": [{"path": "s/a"}, {"run_id": "b"}]}"#).unwrap();
        let unlisted = run_dirs(&dir);
        std::fs::write(&soak, "{\"runs\": [").unwrap();
        let torn = run_dirs(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(listed.unwrap(), [PathBuf::from("s/a"), PathBuf::from("s/b")]);
        for e in [unlisted.unwrap_err(), torn.unwrap_err()] {
            let e = format!("{e:#}");
            assert!(e.starts_with(&format!("{} is not a soak summary", soak.display())), "{e}");
        }
        assert!(run_dirs(&dir).unwrap_err().to_string().contains("neither a run folder"));
    }

    #[test]
    fn compare_table_matches_its_snapshot() {
        let runs =
            [info("run-a", "none", None, SAFE), info("run-b", "loss,power-loss", Some("skip-fsync"), UNSAFE)];
        let text = render(&runs);
        crate::inspect::assert_snapshot("compare_table.txt", &text);
        assert!(
            text.contains("UNSAFE")
                && text.contains("skip-fsync")
                && text.contains("power-loss")
                && text.contains("loss 1")
        );
    }
}
