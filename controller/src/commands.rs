//! The subcommands: dispatch each to its module, run, and print results. Flags become typed
//! plans in `plan.rs`, below this layer, so that the commands that start runs of their own
//! (soak, mutants, bench, scenario) use the same plans without importing this module.

use crate::cli::{CheckArgs, Command, RunArgs};
use crate::exit::Exit;
use crate::plan::run_plan;
use crate::progress::Progress;
use crate::run::run_once;
use anyhow::{Context, Result};
use synod_checker::Report;

/// `explicit`: the flags given on the command line (to refuse them with `--replay`).
pub fn dispatch(command: Command, explicit: &[String]) -> Result<Exit> {
    match command {
        Command::Run(args) => run(args, explicit),
        Command::Soak(args) => crate::soak::soak_command(args),
        Command::Check(args) => check(args),
        Command::Ls(args) => crate::inspect::ls::ls(&args.runs_dir),
        Command::Show(args) => crate::inspect::show::show(args),
        Command::Compare(args) => crate::inspect::compare::compare(&args.runs, &args.runs_dir),
        Command::Bench(args) => crate::bench::bench(args),
        Command::Scenario(args) => match args.command {
            crate::cli::ScenarioCommand::List => Ok(crate::scenario::list()),
            crate::cli::ScenarioCommand::Run { name, runs_dir, quiet } => {
                crate::scenario::run(&name, &runs_dir, quiet)
            }
        },
        Command::Report(args) => {
            let dir = crate::rundir::resolve(&args.run, &args.runs_dir);
            crate::pruned::require_history(&dir)?;
            let path = crate::report::write(&dir)?;
            println!("{}", path.display());
            Ok(Exit::Ok)
        }
        Command::Mutants(args) => crate::soak::hunt::mutants_command(args),
        Command::Node => unreachable!("handled in main"),
    }
}

fn run(args: RunArgs, explicit: &[String]) -> Result<Exit> {
    let (cfg, schedule) = run_plan(&args, explicit)?;
    let quiet = cfg.quiet;
    let mut progress = Progress::for_run(quiet);
    let outcome = run_once(cfg, schedule, &mut progress)?;
    let code = Exit::of_report(&outcome.report);
    if !quiet || code != Exit::Ok {
        print!("{}", summary(&outcome.report));
        println!("run: {}", outcome.run_dir.display());
    }
    for e in &outcome.final_errors {
        eprintln!("final phase: {e}");
    }
    if args.report {
        let path = crate::report::write(&outcome.run_dir).context("cannot write report.html")?;
        if !quiet {
            println!("report: {}", path.display());
        }
    }
    if outcome.interrupted {
        eprintln!("(interrupted: the final phase was cut short; liveness not judged)");
    } else if outcome.workload_cut {
        eprintln!("(interrupted: the workload was cut short; the final phase ran)");
    }
    Ok(code)
}

/// The short summary printed at the end of `synod run`.
pub fn summary(report: &Report) -> String {
    report.render_text()
}

fn check(args: CheckArgs) -> Result<Exit> {
    let path = crate::rundir::resolve(&args.run, &args.runs_dir);
    crate::pruned::require_history(&path)?;
    let report = match synod_checker::check_path(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: {e}");
            return Ok(Exit::Error);
        }
    };
    if path.is_dir() {
        // The verdict stands without its copy on disk (a full disk, a read-only folder).
        if let Err(e) = synod_checker::write_report_json(&path, &report) {
            eprintln!("warning: report.json not written: {e}");
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render_text());
    }
    Ok(Exit::of_report(&report))
}
