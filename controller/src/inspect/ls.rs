//! `synod ls`: one line a run, from its summaries only (and whether its history is still
//! there: a soak's retention drops the history of older passing runs, see pruned.rs). Given
//! a soak folder (or a merge of shards, `synod merge`), the runs its soak.json lists.

use super::summary::{clip, ms, runs_in, RunInfo};
use crate::exit::Exit;
use anyhow::Result;
use std::fmt::Write;
use std::path::Path;

/// `runs_dir`: a folder of runs, or a soak folder (a merge's too), for the runs it lists.
pub fn ls(runs_dir: &Path) -> Result<Exit> {
    let (runs, bad) = if runs_dir.join(crate::soak::summary::SOAK_FILE).is_file() {
        let mut runs = Vec::new();
        let mut bad = Vec::new();
        for dir in super::compare::run_dirs(runs_dir)? {
            match RunInfo::load(&dir) {
                Ok(info) => runs.push(info),
                Err(e) => bad.push(format!("{e:#}")),
            }
        }
        (runs, bad)
    } else {
        runs_in(runs_dir)?
    };
    print!("{}", render(&runs));
    for b in &bad {
        eprintln!("skipped: {b}");
    }
    Ok(Exit::Ok)
}

pub fn render(runs: &[RunInfo]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<20} {:<24} {:>20} {:>5} {:<28} {:<20} {:<10} {:>9} {:>9} history",
        "started (UTC)", "run", "seed", "nodes", "faults", "mutant", "verdict", "decisions", "p99 ms"
    );
    for r in runs {
        let decisions =
            r.report.as_ref().map(|r| r.figures.decisions.to_string()).unwrap_or_else(|| "-".into());
        let p99 = r.report.as_ref().map(|r| r.figures.decision_latency_first_learn.all.p99_us);
        let faults = clip(&r.faults(), 28);
        let _ = writeln!(
            out,
            "{:<20} {:<24} {:>20} {:>5} {:<28} {:<20} {:<10} {:>9} {:>9} {}",
            r.started_at,
            r.run_id,
            r.config.seed,
            r.config.nodes,
            faults,
            r.mutant(),
            r.verdict(),
            decisions,
            ms(p99),
            r.history.name()
        );
    }
    out
}
