//! `synod scenario`: the textbook cases of Paxos as scripted runs of real processes. Each
//! scenario is one or more runs with a precise schedule (message triggers: drop this
//! message, kill that node right after it received that one, pause a proposer between its
//! phases), an expected outcome that is checked from the history, and the diagram of the
//! instance it is about. Everything a scenario does is an ordinary schedule file line, so
//! anyone can write their own.

pub mod cases;
mod facts;

use crate::exit::Exit;
use crate::inspect::{diagram, timeline};
use crate::nemesis::file::parse_schedule;
use crate::nemesis::NemesisConfig;
use crate::progress::Progress;
use crate::run::config::RunConfig;
use anyhow::{bail, Context, Result};
pub use facts::Facts;
use std::path::{Path, PathBuf};

/// One run of a scenario.
pub struct Variant {
    pub label: &'static str,
    /// Nodes in the run.
    pub nodes: u32,
    /// What the run changes of `synod run`'s defaults (see [`config`]).
    pub setup: fn(&mut RunConfig),
    /// The schedule, in the schedule file format.
    pub schedule: &'static str,
}

pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    pub variants: &'static [Variant],
    /// The instance whose diagram is printed.
    pub instance: u64,
    /// Judges the runs (in the order of `variants`): what happened, or what went wrong.
    pub check: fn(&[Facts]) -> std::result::Result<String, String>,
}

pub fn list() -> Exit {
    for s in cases::ALL {
        println!("{:<26} {}", s.name, s.about);
    }
    Exit::Ok
}

pub fn run(name: &str, runs_dir: &Path, quiet: bool) -> Result<Exit> {
    let Some(s) = cases::ALL.iter().find(|s| s.name == name) else {
        let names: Vec<&str> = cases::ALL.iter().map(|s| s.name).collect();
        bail!("no scenario `{name}`; there are: {}", names.join(", "));
    };
    println!("scenario {}: {}", s.name, s.about);
    let mut facts = Vec::new();
    for v in s.variants {
        let dir = run_variant(v, runs_dir, quiet).with_context(|| format!("{}: {}", s.name, v.label))?;
        let f = Facts::load(&dir)?;
        println!("\n== {} ({}): {}", v.label, f.report.verdict.name(), dir.display());
        let history = synod_checker::history_file::find(&dir)?;
        let filter = timeline::Filter { instance: Some(s.instance), ..timeline::Filter::default() };
        let (items, _) = timeline::read(&history, &filter)?;
        let nodes: Vec<u64> = (1..=f.nodes).collect();
        print!("{}", diagram::render(&items, &nodes));
        facts.push(f);
    }
    match (s.check)(&facts) {
        Ok(what) => {
            println!("\nexpected outcome: {what}");
            Ok(Exit::Ok)
        }
        Err(what) => {
            println!("\nUNEXPECTED: {what}");
            Ok(Exit::Unsafe)
        }
    }
}

/// The config of one variant: `synod run`'s defaults on its nodes, changed by its setup,
/// with no faults but its schedule's and no revisits (their triggers and their expected
/// counts are about the instances they script, which a revisit would propose again).
pub fn config(v: &Variant, runs_dir: &Path, seed: u64) -> Result<RunConfig> {
    let mut cfg = RunConfig {
        nemesis: NemesisConfig { faults: Vec::new(), ..NemesisConfig::default() },
        revisit: 0.0,
        runs_dir: runs_dir.to_path_buf(),
        quiet: true,
        ..RunConfig::defaults(v.nodes, seed)
    };
    (v.setup)(&mut cfg);
    cfg.validate().map_err(|e| anyhow::anyhow!(e.as_flag()))?;
    Ok(cfg)
}

/// Runs one variant with a fresh seed and its own schedule.
fn run_variant(v: &Variant, runs_dir: &Path, quiet: bool) -> Result<PathBuf> {
    let cfg = config(v, runs_dir, crate::run::random_u64())?;
    let schedule = parse_schedule(v.schedule, v.label, cfg.nodes).map_err(anyhow::Error::msg)?;
    let mut progress = Progress::for_run(quiet);
    let outcome = crate::run::run_once(cfg, schedule, &mut progress)?;
    Ok(outcome.run_dir)
}
