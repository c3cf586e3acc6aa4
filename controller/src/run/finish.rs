//! The end of a run, after the nodes stopped: the history's `end` line (an aborted run's
//! says so and why), the history closed and checked, report.json written, and the outcome
//! for the caller.
//!
//! A full disk is what the user must hear about, not the node exits or the failed write it
//! caused: it takes precedence over any other error, and the check is then tried but not
//! required (the `end` line and report.json may not fit any more).

use super::runner::Runner;
use super::RunOutcome;
use crate::rundir::RunDir;
use anyhow::{Context, Result};
use std::borrow::Cow;
use synod_checker::history as schema;
use synod_node::paxos::NodeId;

impl Runner<'_> {
    /// Ends the history (an aborted run's `end` says so and why), checks it and writes
    /// report.json. A run that never really ran is recorded as such, and to the caller it
    /// is an error naming each failed node's log (exit 2).
    pub(super) fn close_and_check(mut self, dir: &RunDir, result: Result<()>) -> Result<RunOutcome> {
        let (disk, result) = self.disk_first(dir, result);
        self.record_end(&result);
        if disk.is_some() {
            self.check_on_a_full_disk(dir);
            let e = result.expect_err("a run stopped for its disk is an error");
            anyhow::bail!("run aborted: {e:#}\nrun: {}", dir.path.display());
        }
        self.history.close()?;
        let checking = std::time::Instant::now();
        let report = synod_checker::check_path(&dir.path).context("cannot check the history")?;
        let check_s = checking.elapsed().as_secs_f64();
        synod_checker::write_report_json(&dir.path, &report).context("cannot write report.json")?;
        if let Err(e) = result {
            let logs = self.startup_failed.iter().map(|&n| log_line(dir, n)).collect::<Vec<_>>();
            let logs = if logs.is_empty() { String::new() } else { format!("\n{}", logs.join("\n")) };
            anyhow::bail!("run aborted: {e:#}{logs}\nrun: {}", dir.path.display());
        }
        Ok(RunOutcome {
            run_dir: dir.path.clone(),
            run_id: dir.id.clone(),
            report,
            workload_cut: self.workload_cut,
            interrupted: self.interrupted,
            final_errors: self.final_errors,
            exercised: self.nemesis.exercised().clone(),
            check_s,
        })
    }

    /// The disk trouble that stopped or spoiled the run, if any, and the run's result with
    /// it first: a full disk (seen during the run, or looked at now that something failed)
    /// or a failed history write.
    fn disk_first(&self, dir: &RunDir, result: Result<()>) -> (Option<String>, Result<()>) {
        let failed = result.is_err() || !self.final_errors.is_empty();
        let disk = self.disk_full.clone().or_else(|| self.history.write_failure()).or_else(|| {
            if failed {
                crate::disk::full(&dir.path)
            } else {
                None
            }
        });
        let result = match (&disk, result) {
            (Some(d), Err(e)) if format!("{e:#}") != *d => Err(anyhow::anyhow!("{d}\n(besides: {e:#})")),
            (Some(d), _) => Err(anyhow::anyhow!("{d}")),
            (None, result) => result,
        };
        (disk, result)
    }

    /// The history's `end` line: aborted (and why) if `result` is an error.
    fn record_end(&self, result: &Result<()>) {
        let reason = result.as_ref().err().map(|e| format!("{e:#}").replace('\n', " "));
        self.history.record(&schema::Event::End(schema::End {
            t: self.history.now_us(),
            aborted: reason.is_some(),
            interrupted: self.interrupted,
            reason: reason.map(Cow::Owned),
            unanswered: Some(self.workload.unanswered() as u64),
            unlearned: Some(self.workload.unlearned() as u64),
            workload_cut: self.workload_cut,
        }));
    }

    /// On a full disk the `end` line most likely did not fit: the history reads as
    /// truncated. Whether report.json still fits is tried; the run is reported aborted
    /// either way.
    fn check_on_a_full_disk(&mut self, dir: &RunDir) {
        let _ = self.history.close();
        let wrote = synod_checker::check_path(&dir.path)
            .map_err(anyhow::Error::from)
            .and_then(|report| Ok(synod_checker::write_report_json(&dir.path, &report)?));
        if let Err(e) = wrote {
            tracing::debug!("no report.json for a run on a full disk: {e:#}");
        }
    }
}

/// `  n2: <path of its node.log>: <its last line>`, for an aborted run's error message.
fn log_line(dir: &RunDir, node: NodeId) -> String {
    let path = dir.node_dir(node).join("node.log");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("(empty)");
    let last: String = last.chars().take(200).collect();
    format!("  n{node}: {}: {last}", path.display())
}
