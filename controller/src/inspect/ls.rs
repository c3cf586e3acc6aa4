//! `synod ls`: one line a run, from its summaries only.

use super::summary::{ms, runs_in, RunInfo};
use anyhow::Result;
use std::fmt::Write;
use std::path::Path;

pub fn ls(runs_dir: &Path) -> Result<i32> {
    let (runs, bad) = runs_in(runs_dir)?;
    print!("{}", render(&runs));
    for b in &bad {
        eprintln!("skipped: {b}");
    }
    Ok(0)
}

pub fn render(runs: &[RunInfo]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<20} {:<24} {:>20} {:>5} {:<28} {:<20} {:<10} {:>9} {:>9}",
        "started (UTC)", "run", "seed", "nodes", "faults", "mutant", "verdict", "decisions", "p99 ms"
    );
    for r in runs {
        let decisions =
            r.report.as_ref().map(|r| r.figures.decisions.to_string()).unwrap_or_else(|| "-".into());
        let p99 = r.report.as_ref().map(|r| r.figures.decision_latency_first_learn.all.p99_us);
        let mut faults = r.faults();
        if faults.len() > 28 {
            faults.truncate(27);
            faults.push('~');
        }
        let _ = writeln!(
            out,
            "{:<20} {:<24} {:>20} {:>5} {:<28} {:<20} {:<10} {:>9} {:>9}",
            r.started_at,
            r.run_id,
            r.config.seed,
            r.config.nodes,
            faults,
            r.mutant(),
            r.verdict(),
            decisions,
            ms(p99)
        );
    }
    out
}
