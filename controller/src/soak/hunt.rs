//! `synod mutants`: the bench hunting its own node's bugs. Each mutant in turn gets a soak
//! (swarm nemesis, every run checked) that stops at the first safety violation or when the
//! mutant's budget is spent. Then the correct protocol gets a soak as long as all the hunts
//! together, and must show no violation at all. The table is printed and written as
//! `mutants.json` in a `runs/mutants-<id>/` folder. With `--sim` every run of every soak is
//! simulated (`SoakPlan::simulated`): the same hunt, at the simulator's speed.

use super::summary::SoakSummary;
use super::{soak, SoakPlan};
use crate::exit::Exit;
use crate::progress::Progress;
use crate::run::shutdown::Shutdown;
use crate::rundir::RunDir;
use anyhow::{Context, Result};
use serde::Serialize;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use synod_node::paxos::Bug;
use tokio::time::Instant;

pub const MUTANTS_FILE: &str = "mutants.json";

/// How the hunt for one mutant went.
#[derive(Debug, Clone, Serialize)]
pub struct Hunt {
    pub mutant: String,
    pub caught: bool,
    /// Seconds from the hunt's start to the end of the check that saw the violation.
    pub seconds_to_catch: Option<f64>,
    /// Seconds the hunt took in all.
    pub seconds: f64,
    pub runs: u64,
    /// The safety rules the violating run broke.
    pub rules: Vec<String>,
    pub run: Option<PathBuf>,
    pub replay: Option<String>,
    pub soak: PathBuf,
}

/// The correct protocol's soak.
#[derive(Debug, Clone, Serialize)]
pub struct Control {
    pub seconds: f64,
    pub runs: u64,
    pub decisions: u64,
    pub safety_violations: u64,
    pub liveness_failures: u64,
    pub soak: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct HuntReport {
    pub seed: u64,
    /// Every run was simulated (`synod mutants --sim`).
    pub simulated: bool,
    pub budget_s: f64,
    pub time_per_run_s: f64,
    pub nodes: u32,
    pub hunts: Vec<Hunt>,
    pub caught: usize,
    pub median_seconds_to_catch: Option<f64>,
    pub control: Option<Control>,
    pub stopped_early: Option<String>,
}

/// What `synod mutants` hunts, and the soak each hunt (and the control) runs: its `run`
/// holds the correct protocol; each hunt sets its mutant.
#[derive(Debug, Clone)]
pub struct HuntPlan {
    pub bugs: Vec<Bug>,
    pub soak: SoakPlan,
}

/// `synod mutants`: hunts each mutant, then soaks the correct protocol, prints the table and
/// says how it went.
pub fn mutants_command(hunt: HuntPlan) -> Result<Exit> {
    let HuntPlan { bugs, soak: plan } = hunt;
    plan.run.validate().map_err(|e| anyhow::anyhow!(e.as_flag()))?;
    let base = &plan.run.nemesis;
    let storage_bugs: Vec<&str> = bugs.iter().filter(|b| b.needs_power_loss()).map(|b| b.name()).collect();
    if !storage_bugs.is_empty() && !base.faults.iter().any(|k| k.cuts_power()) {
        tracing::warn!(
            "{} shows only under a power loss, and this nemesis ({}) cuts no power: it cannot be caught",
            storage_bugs.join(", "),
            base.names()
        );
    }
    let dir = RunDir::create_prefixed(&plan.run.runs_dir, "mutants-")?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start tokio")?;
    let mut progress = Progress::for_soak(plan.run.quiet, bugs.len() as u64 + 1);
    let result = runtime.block_on(hunt_all(&plan, &bugs, &dir.path, &mut progress));
    progress.finish();
    let (report, bench_error) = result?;
    print!("{}", render(&report));
    println!("mutants: {}", dir.path.join(MUTANTS_FILE).display());
    if let Some(e) = bench_error {
        eprintln!("Error: {e:#}");
        return Ok(Exit::Error);
    }
    let control_unsafe = report.control.as_ref().is_some_and(|c| c.safety_violations > 0);
    Ok(if control_unsafe {
        Exit::Unsafe
    } else if report.caught < report.hunts.len() || report.stopped_early.is_some() {
        Exit::NotCaught
    } else {
        Exit::Ok
    })
}

async fn hunt_all(
    plan: &SoakPlan,
    bugs: &[Bug],
    dir: &Path,
    progress: &mut Progress,
) -> Result<(HuntReport, Option<anyhow::Error>)> {
    let shutdown = Shutdown::listen();
    let mut report = HuntReport {
        seed: plan.seed,
        simulated: plan.simulated,
        budget_s: plan.time_s.unwrap_or(0.0),
        time_per_run_s: plan.run.time_s,
        nodes: plan.run.nodes,
        hunts: Vec::new(),
        caught: 0,
        median_seconds_to_catch: None,
        control: None,
        stopped_early: None,
    };
    let mut total_s = 0.0;
    for (k, bug) in bugs.iter().enumerate() {
        let mut p = plan.clone();
        p.run.tuning.bug = Some(*bug);
        let started = Instant::now();
        let label = format!("{} ({}/{}) | ", bug.name(), k + 1, bugs.len());
        let (summary, error) = soak(&p, progress, shutdown.clone(), &label).await?;
        let seconds = started.elapsed().as_secs_f64();
        total_s += seconds;
        report.hunts.push(hunt_of(bug, &summary, seconds));
        report.caught = report.hunts.iter().filter(|h| h.caught).count();
        write_json(dir, &report)?;
        progress.set_position(k as u64 + 1);
        if error.is_some() || shutdown.count() > 0 {
            // The soak's own reason (a run that could not run, or would not fit on the disk).
            report.stopped_early = Some(match &error {
                Some(_) => format!(
                    "{}: {}",
                    bug.name(),
                    summary.stopped_early.as_deref().unwrap_or("a run could not run")
                ),
                None => "interrupted".into(),
            });
            return Ok((finish(report, dir)?, error));
        }
    }
    // The control: the correct protocol, as long as every hunt together.
    let control = SoakPlan { time_s: Some(total_s.max(plan.run.time_s)), keep_going: true, ..plan.clone() };
    let started = Instant::now();
    let (summary, error) = soak(&control, progress, shutdown.clone(), "correct protocol | ").await?;
    report.control = Some(Control {
        seconds: started.elapsed().as_secs_f64(),
        runs: summary.totals.runs,
        decisions: summary.totals.decisions,
        safety_violations: summary.totals.safety_violations,
        liveness_failures: summary.totals.liveness_failures,
        soak: summary.path.clone(),
    });
    if shutdown.count() > 0 {
        report.stopped_early = Some("interrupted".into());
    }
    Ok((finish(report, dir)?, error))
}

fn hunt_of(bug: &Bug, summary: &SoakSummary, seconds: f64) -> Hunt {
    let caught = summary.runs.iter().find(|r| !r.safe);
    Hunt {
        mutant: bug.name().to_string(),
        caught: caught.is_some(),
        seconds_to_catch: caught.map(|r| r.ended_s),
        seconds,
        runs: summary.totals.runs,
        rules: caught.map(|r| r.violated.clone()).unwrap_or_default(),
        run: caught.map(|r| r.path.clone()),
        replay: caught.map(|r| r.replay.clone()),
        soak: summary.path.clone(),
    }
}

fn finish(mut report: HuntReport, dir: &Path) -> Result<HuntReport> {
    let mut times: Vec<f64> = report.hunts.iter().filter_map(|h| h.seconds_to_catch).collect();
    times.sort_by(f64::total_cmp);
    report.median_seconds_to_catch = match times.len() {
        0 => None,
        n if n % 2 == 1 => Some(times[n / 2]),
        n => Some((times[n / 2 - 1] + times[n / 2]) / 2.0),
    };
    write_json(dir, &report)?;
    Ok(report)
}

fn write_json(dir: &Path, report: &HuntReport) -> Result<()> {
    let path = dir.join(MUTANTS_FILE);
    std::fs::write(&path, serde_json::to_vec_pretty(report)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The table printed at the end.
pub fn render(r: &HuntReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "mutant hunt ({}seed {}, {} nodes, budget {:.0} s a mutant, runs of {} s)",
        if r.simulated { "simulated, " } else { "" },
        r.seed,
        r.nodes,
        r.budget_s,
        r.time_per_run_s
    );
    let _ = writeln!(
        out,
        "  {:<27} {:<6} {:>8} {:>5}  {:<40} run",
        "mutant", "caught", "seconds", "runs", "rules"
    );
    for h in &r.hunts {
        let secs = h.seconds_to_catch.map(|s| format!("{s:.1}")).unwrap_or_else(|| "-".into());
        let run = h.run.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<27} {:<6} {:>8} {:>5}  {:<40} {run}",
            h.mutant,
            if h.caught { "yes" } else { "NO" },
            secs,
            h.runs,
            h.rules.join(",")
        );
    }
    let median = r.median_seconds_to_catch.map(|s| format!("{s:.1} s")).unwrap_or_else(|| "-".into());
    let _ = writeln!(out, "  caught {} of {}; median time to catch {median}", r.caught, r.hunts.len());
    if let Some(c) = &r.control {
        let _ = writeln!(
            out,
            "  correct protocol: {} runs in {:.0} s, {} decisions, {} safety violations, {} liveness failures",
            c.runs, c.seconds, c.decisions, c.safety_violations, c.liveness_failures
        );
    }
    for h in r.hunts.iter().filter(|h| h.caught) {
        if let Some(replay) = &h.replay {
            let _ = writeln!(out, "  replay {}: {replay}", h.mutant);
        }
    }
    if let Some(why) = &r.stopped_early {
        let _ = writeln!(out, "  stopped early: {why}");
    }
    out
}
