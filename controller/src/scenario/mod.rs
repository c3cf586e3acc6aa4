//! `synod scenario`: the textbook cases of Paxos as scripted runs of real processes. Each
//! scenario is one or more runs with a precise schedule (message triggers: drop this
//! message, kill that node right after it received that one, pause a proposer between its
//! phases), an expected outcome that is checked from the history, and the diagram of the
//! instance it is about. Everything a scenario does is an ordinary schedule file line, so
//! anyone can write their own.

mod cases;
mod facts;

use crate::exit::Exit;
use crate::inspect::{diagram, timeline};
use crate::nemesis::file::parse_schedule;
use crate::plan::plan_from_flags;
use crate::progress::Progress;
use anyhow::{bail, Context, Result};
pub use facts::Facts;
use std::path::{Path, PathBuf};

/// One run of a scenario.
pub struct Variant {
    pub label: &'static str,
    /// `synod run` flags.
    pub flags: &'static [&'static str],
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

/// Runs one variant. Scenarios make no revisits (`--revisit 0`): their triggers and their
/// expected counts are about the instances they script, which a revisit would propose again.
fn run_variant(v: &Variant, runs_dir: &Path, quiet: bool) -> Result<PathBuf> {
    let dir = runs_dir.to_string_lossy().to_string();
    let mut flags = v.flags.to_vec();
    flags.extend_from_slice(&["--revisit", "0", "--runs-dir", &dir, "-q"]);
    let (cfg, _) = plan_from_flags(&flags)?;
    let schedule = parse_schedule(v.schedule, v.label, cfg.nodes).map_err(anyhow::Error::msg)?;
    let mut progress = Progress::for_run(quiet);
    let outcome = crate::run::run_once(cfg, schedule, &mut progress)?;
    Ok(outcome.run_dir)
}
