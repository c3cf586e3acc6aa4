//! `synod shrink RUN`: a failing simulated run made small. A simulated run is a pure
//! function of its config and nemesis schedule (docs/sim.md), so a smaller counterexample is
//! searched for by running variations of them, as delta debugging does (Zeller): fewer
//! faults, a shorter workload, fewer instances, less concurrency and contention, fewer
//! nodes and proposers, gentler net faults (candidates.rs, over ddmin.rs). A variation is kept when it
//! still breaks the same safety rule with no more history events (trial.rs); the passes are
//! repeated until none keeps anything, or the budget is spent.
//!
//! When a round keeps nothing and budget is left, the tiny pass (tiny.rs) redraws the smallest
//! run in tiny shapes under many seeds, and a smaller run found there goes through the rounds
//! again.
//!
//! Every candidate runs in a scratch folder (on a RAM filesystem when there is one with room,
//! else under the runs dir: scratch.rs), deleted at the end; the smallest failing run is moved
//! out of it as a new ordinary run folder (`shrunk-<stamp>`), which `show`, `check` and
//! `report` read as any other. Its meta.json and its history's run line name its own
//! schedule.jsonl (runline.rs); meta.json also the run it was shrunk from; `synod sim
//! --replay` replays it.

pub mod candidates;
pub mod ddmin;
pub mod focus;
pub mod nodes;
pub mod original;
pub mod runline;
pub mod scratch;
pub mod tiny;
pub mod trial;

use crate::exit::Exit;
use crate::rundir::RunDir;
use anyhow::{Context, Result};
use ddmin::Verdict;
use original::Original;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use trial::{Candidate, Search};

/// Rounds of every pass, at most (each round that keeps nothing ends the search anyway).
const ROUNDS_MAX: u32 = 8;

/// What `synod shrink` was asked.
#[derive(Debug, Clone)]
pub struct ShrinkPlan {
    /// The run folder to shrink.
    pub run: PathBuf,
    pub runs_dir: PathBuf,
    pub quiet: bool,
    /// Wall-clock seconds for the search (the original's re-run included).
    pub budget_s: f64,
}

/// What a shrink found.
#[derive(Debug)]
pub struct Shrunk {
    pub rule: String,
    pub events_before: u64,
    pub events_after: u64,
    /// The new run folder.
    pub dir: PathBuf,
    /// Candidates run, and kept.
    pub runs: u64,
    pub accepted: u64,
    pub seconds: f64,
    /// The command that replays the result (`synod sim --replay`).
    pub replay: String,
    /// The scratch folder the candidates ran in (deleted by now).
    pub scratch: PathBuf,
}

/// Runs the shrink and prints what it found.
pub fn shrink_command(plan: ShrinkPlan) -> Result<Exit> {
    let shrunk = shrink(&plan)?;
    print!("{}", render(&shrunk));
    Ok(Exit::Ok)
}

/// The summary `synod shrink` prints.
pub fn render(s: &Shrunk) -> String {
    let times = s.events_before as f64 / s.events_after.max(1) as f64;
    format!(
        "shrunk: {} -> {} history events ({:.0} times fewer), rule {} still broken\n\
         searched: {} simulated runs, {} kept, in {:.1} s\n\
         run: {}\n\
         replay: {}\n",
        s.events_before,
        s.events_after,
        times,
        s.rule,
        s.runs,
        s.accepted,
        s.seconds,
        s.dir.display(),
        s.replay
    )
}

/// Shrinks `plan.run`: the search, then the smallest run moved into `plan.runs_dir`.
pub fn shrink(plan: &ShrinkPlan) -> Result<Shrunk> {
    crate::limits::soak_seconds_flag(&plan.budget_s.to_string())
        .map_err(|must| anyhow::anyhow!("--budget-s {}: {must}", plan.budget_s))?;
    let started = Instant::now();
    let dir = crate::rundir::resolve(&plan.run, &plan.runs_dir);
    let original = Original::load(&dir)?;
    let rule = original.broken[0].clone();
    std::fs::create_dir_all(&plan.runs_dir)
        .with_context(|| format!("cannot create {}", plan.runs_dir.display()))?;
    let scratch = scratch::create(&plan.runs_dir)?;
    let result = search(plan, &original, &rule, &scratch, started);
    let moved = result.and_then(|search| keep(plan, &original, search, started));
    let _ = std::fs::remove_dir_all(&scratch);
    moved
}

fn search(
    plan: &ShrinkPlan,
    original: &Original,
    rule: &str,
    scratch: &Path,
    started: Instant,
) -> Result<Search> {
    let deadline = started + Duration::from_secs_f64(plan.budget_s);
    let mut first = Candidate { cfg: original.cfg.clone(), schedule: original.schedule.clone() };
    candidates::trace_all(&mut first);
    let say = |text: String| {
        if !plan.quiet {
            eprintln!("{text}");
        }
    };
    say(format!("shrinking {} ({} events, {rule} broken)", original.dir.display(), original.events));
    let cut = candidates::cut_near(&first, original.at.instance, original.at.t_us);
    let mut search = Search::first(rule, scratch, deadline, cut, first)?;
    let mut round = 0;
    // Seeds the tiny pass has drawn (offsets from the best run's seed).
    let mut tiny_seeds = 0;
    loop {
        // The passes, until a round keeps nothing (a fixed point).
        for _ in 0..ROUNDS_MAX {
            round += 1;
            let kept = candidates::round(&mut search);
            say(format!(
                "round {round}: {} events, {} runs so far, {:.1} s",
                search.best.events,
                search.runs,
                started.elapsed().as_secs_f64()
            ));
            if !kept || Instant::now() >= deadline {
                break;
            }
        }
        // At the fixed point, with budget left: tiny shapes under other seeds (tiny.rs); a
        // smaller run found there goes through the passes again.
        if Instant::now() >= deadline || tiny::tiny(&mut search, &mut tiny_seeds) != Verdict::Fails {
            break;
        }
        say(format!(
            "tiny: {} events ({} nodes, {} proposers), {} runs so far, {:.1} s",
            search.best.events,
            search.best.candidate.cfg.nodes,
            search.best.candidate.cfg.proposers.len(),
            search.runs,
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(search)
}

/// Moves the best run out of the scratch folder as `shrunk-<stamp>` in the runs dir, points
/// its meta.json at its own schedule and at the original, checks it again there (report.json)
/// and marks it `latest`.
fn keep(plan: &ShrinkPlan, original: &Original, search: Search, started: Instant) -> Result<Shrunk> {
    let out = RunDir::create_prefixed(&plan.runs_dir, "shrunk-")?;
    // RunDir::create_prefixed made the folder, empty: the best run's takes its place.
    scratch::move_dir(&search.best.dir, &out.path)?;
    let schedule_path = out.path.join(crate::nemesis::file::SCHEDULE_FILE);
    runline::rewrite(&out.path, &schedule_path, &plan.runs_dir)?;
    let meta_path = out.path.join("meta.json");
    let text = std::fs::read_to_string(&meta_path)
        .with_context(|| format!("cannot read {}", meta_path.display()))?;
    let mut meta: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", meta_path.display()))?;
    meta["run_id"] = serde_json::json!(out.id);
    meta["config"]["schedule"] = serde_json::json!({ "source": "file", "path": schedule_path });
    meta["config"]["runs_dir"] = serde_json::json!(plan.runs_dir);
    meta["command_line"] = serde_json::json!(std::env::args().collect::<Vec<_>>());
    meta["shrunk_from"] = serde_json::json!({
        "run": original.dir,
        "rule": search.rule,
        "events": original.events,
    });
    std::fs::write(&meta_path, serde_json::to_vec_pretty(&meta)?)
        .with_context(|| format!("cannot write {}", meta_path.display()))?;
    let report = synod_checker::check_path(&out.path)
        .with_context(|| format!("cannot check {}", out.path.display()))?;
    synod_checker::write_report_json(&out.path, &report)?;
    anyhow::ensure!(
        report.safety.iter().any(|r| r.rule == search.rule && !r.ok),
        "{}: the kept run no longer reads as breaking {}",
        out.path.display(),
        search.rule
    );
    out.mark_latest()?;
    Ok(Shrunk {
        rule: search.rule.clone(),
        events_before: original.events,
        events_after: report.events,
        replay: format!("synod sim --replay {}", out.path.display()),
        dir: out.path,
        runs: search.runs,
        accepted: search.accepted,
        seconds: started.elapsed().as_secs_f64(),
        scratch: search.scratch.clone(),
    })
}
