//! The soak's record: `soak.json` in the soak's folder, rewritten after every run (so an
//! interrupted soak still lists what it did), and the table printed at the end.

use super::keep::Keep;
use super::merged::Merged;
use super::ranges::ranges;
use super::shard::Shard;
use crate::nemesis::{FaultKind, NemesisConfig};
use crate::pruned::HistoryState;
use crate::run::config::RunConfig;
use crate::run::RunOutcome;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

pub const SOAK_FILE: &str = "soak.json";

/// One run of the soak.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub index: u64,
    /// Seconds from the soak's start to the end of this run's check.
    pub ended_s: f64,
    pub run_id: String,
    pub path: PathBuf,
    pub seed: u64,
    pub nemesis: NemesisConfig,
    pub verdict: String,
    pub exit_code: i32,
    pub safe: bool,
    pub live: Option<bool>,
    /// Safety rules that fired.
    pub violated: Vec<String>,
    pub decisions: u64,
    /// Fault actions started in the run, by kind.
    pub exercised: BTreeMap<FaultKind, u64>,
    pub final_errors: Vec<String>,
    /// The command that runs it again.
    pub replay: String,
    /// Whether its folder still holds its history (`kept`) or the soak's retention dropped
    /// it (`dropped`: only meta.json, report.json, schedule.jsonl and pruned.json are left).
    pub history: HistoryState,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub runs: u64,
    pub decisions: u64,
    pub safety_violations: u64,
    pub liveness_failures: u64,
    /// Runs in which each fault kind was enabled.
    pub runs_with: BTreeMap<FaultKind, u64>,
    /// Fault actions started, by kind.
    pub actions: BTreeMap<FaultKind, u64>,
    /// Runs whose history the retention dropped, and the bytes that freed.
    pub pruned_runs: u64,
    pub pruned_bytes: u64,
}

impl RunRecord {
    pub fn new(
        index: u64,
        seed: u64,
        nemesis: NemesisConfig,
        outcome: &RunOutcome,
        ended_s: f64,
        simulated: bool,
    ) -> RunRecord {
        let command = if simulated { "sim" } else { "run" };
        let report = &outcome.report;
        RunRecord {
            index,
            ended_s,
            run_id: outcome.run_id.clone(),
            path: outcome.run_dir.clone(),
            seed,
            nemesis,
            verdict: report.verdict.name().to_string(),
            exit_code: report.exit_code(),
            safe: report.safe,
            live: report.live,
            violated: report.safety.iter().filter(|r| !r.ok).map(|r| r.rule.clone()).collect(),
            decisions: report.figures.decisions,
            exercised: outcome.exercised.clone(),
            final_errors: outcome.final_errors.clone(),
            replay: format!("synod {command} --replay {}", outcome.run_dir.display()),
            history: crate::pruned::history_state(&outcome.run_dir),
        }
    }

    /// Whether the retention counts it as passing (anything but `valid` is kept whole).
    pub fn passing(&self) -> bool {
        self.verdict == synod_checker::Verdict::Valid.name()
    }
}

impl Totals {
    pub fn add(&mut self, r: &RunRecord) {
        self.runs += 1;
        self.decisions += r.decisions;
        self.safety_violations += u64::from(!r.safe);
        self.liveness_failures += u64::from(r.live == Some(false));
        for &k in &r.nemesis.faults {
            *self.runs_with.entry(k).or_default() += 1;
        }
        for (&k, &n) in &r.exercised {
            *self.actions.entry(k).or_default() += n;
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SoakSummary {
    pub soak_id: String,
    pub path: PathBuf,
    pub seed: u64,
    /// The mutant every run ran, if any.
    pub bug: Option<String>,
    pub command_line: Vec<String>,
    pub started_at: String,
    /// The retention policy (`--keep`).
    pub keep: Keep,
    /// Why the soak ended before its planned runs or time, if it did.
    pub stopped_early: Option<String>,
    /// Its runs are simulated (`synod sim --runs`); written only then, so that a soak of
    /// processes writes the soak.json it always has.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
    /// The shard of the soak this process ran (`--shard K/N`); absent for a whole soak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// `--runs` and `--time` (`--budget-s`) of the soak: what a merge expects of each shard.
    #[serde(default)]
    pub planned_runs: Option<u64>,
    #[serde(default)]
    pub planned_time_s: Option<f64>,
    /// The run every run was drawn around (its nemesis the pool, its seed the soak's): shards
    /// of one campaign share it, but for `runs_dir` and `quiet`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<RunConfig>,
    /// For a merge of shards (`synod merge`): where each came from, and what was missing or twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<Merged>,
    pub totals: Totals,
    pub runs: Vec<RunRecord>,
}

impl SoakSummary {
    /// Writes soak.json atomically (a temporary file renamed over the old one).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(SOAK_FILE);
        let tmp = dir.join(format!(".{SOAK_FILE}.tmp"));
        if let Err(e) = std::fs::write(&tmp, serde_json::to_vec_pretty(self)?) {
            // A full disk leaves the soak.json before intact; the torn copy goes.
            let _ = std::fs::remove_file(&tmp);
            return Err(e).with_context(|| format!("cannot write {}", tmp.display()));
        }
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))
    }

    /// The end-of-soak table.
    pub fn render(&self) -> String {
        let t = &self.totals;
        let mut out = String::new();
        let bug = self.bug.as_deref().map(|b| format!(", mutant {b}")).unwrap_or_default();
        let shard = self.shard.map(|s| format!(", shard {s}")).unwrap_or_default();
        let _ = writeln!(out, "soak {} (seed {}{bug}{shard})", self.soak_id, self.seed);
        let _ = writeln!(
            out,
            "  runs {}   decisions {}   safety violations {}   liveness failures {}",
            t.runs, t.decisions, t.safety_violations, t.liveness_failures
        );
        let _ = writeln!(out, "  {:<14} {:>6} {:>8}", "fault", "runs", "actions");
        for k in FaultKind::ALL {
            let runs = t.runs_with.get(&k).copied().unwrap_or(0);
            let actions = t.actions.get(&k).copied().unwrap_or(0);
            if runs > 0 || actions > 0 {
                let _ = writeln!(out, "  {:<14} {:>6} {:>8}", k.name(), runs, actions);
            }
        }
        for r in self.runs.iter().filter(|r| !r.safe || r.live == Some(false)) {
            let what =
                if r.safe { "not live".to_string() } else { format!("UNSAFE ({})", r.violated.join(", ")) };
            let _ = writeln!(out, "  run {} {}: {what}\n    replay: {}", r.index, r.run_id, r.replay);
        }
        out.push_str(&self.render_histories());
        if let Some(merged) = &self.merged {
            out.push_str(&merged.render());
        }
        if let Some(why) = &self.stopped_early {
            let _ = writeln!(out, "  stopped early: {why}");
        }
        out
    }

    /// Which runs still have their history: one line for those kept, one for those dropped.
    fn render_histories(&self) -> String {
        let with = |state: HistoryState| -> Vec<u64> {
            self.runs.iter().filter(|r| r.history == state).map(|r| r.index).collect()
        };
        let mut out = String::new();
        let kept = with(HistoryState::Kept);
        if !kept.is_empty() {
            let _ = writeln!(out, "  history kept: {}", ranges(&kept));
        }
        let dropped = with(HistoryState::Dropped);
        if !dropped.is_empty() {
            let command = if self.simulated { "sim" } else { "run" };
            let _ = writeln!(
                out,
                "  history dropped (--keep {}, {:.1} MB freed): {}; replay one with synod {command} --replay <run>",
                self.keep,
                self.totals.pruned_bytes as f64 / 1e6,
                ranges(&dropped)
            );
        }
        let missing = with(HistoryState::Missing);
        if !missing.is_empty() {
            let _ = writeln!(out, "  history missing: {}", ranges(&missing));
        }
        out
    }
}
