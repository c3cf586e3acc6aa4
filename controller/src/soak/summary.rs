//! The soak's record: `soak.json` in the soak's folder, rewritten after every run (so an
//! interrupted soak still lists what it did), and the table printed at the end.

use crate::nemesis::{FaultKind, NemesisConfig};
use crate::run::RunOutcome;
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

pub const SOAK_FILE: &str = "soak.json";

/// One run of the soak.
#[derive(Debug, Clone, Serialize)]
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
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub runs: u64,
    pub decisions: u64,
    pub safety_violations: u64,
    pub liveness_failures: u64,
    /// Runs in which each fault kind was enabled.
    pub runs_with: BTreeMap<FaultKind, u64>,
    /// Fault actions started, by kind.
    pub actions: BTreeMap<FaultKind, u64>,
}

impl RunRecord {
    pub fn new(
        index: u64,
        seed: u64,
        nemesis: NemesisConfig,
        outcome: &RunOutcome,
        ended_s: f64,
    ) -> RunRecord {
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
            replay: format!("synod run --replay {}", outcome.run_dir.display()),
        }
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

#[derive(Debug, Clone, Serialize)]
pub struct SoakSummary {
    pub soak_id: String,
    pub path: PathBuf,
    pub seed: u64,
    /// The mutant every run ran, if any.
    pub bug: Option<String>,
    pub command_line: Vec<String>,
    pub started_at: String,
    /// Why the soak ended before its planned runs or time, if it did.
    pub stopped_early: Option<String>,
    pub totals: Totals,
    pub runs: Vec<RunRecord>,
}

impl SoakSummary {
    /// Writes soak.json atomically (a temporary file renamed over the old one).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(SOAK_FILE);
        let tmp = dir.join(format!(".{SOAK_FILE}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))
    }

    /// The end-of-soak table.
    pub fn render(&self) -> String {
        let t = &self.totals;
        let mut out = String::new();
        let bug = self.bug.as_deref().map(|b| format!(", mutant {b}")).unwrap_or_default();
        let _ = writeln!(out, "soak {} (seed {}{bug})", self.soak_id, self.seed);
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
        if let Some(why) = &self.stopped_early {
            let _ = writeln!(out, "  stopped early: {why}");
        }
        out
    }
}
