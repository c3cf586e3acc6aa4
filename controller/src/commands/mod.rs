//! The subcommands: dispatch each to its module, run, and print results. Flags become typed
//! plans here, once (flags.rs); the layers below never see clap's types. The commands that
//! start runs of their own (soak, mutants, bench, scenario) plan them from
//! `RunConfig::defaults` (plan.rs) without importing this module.

pub mod flags;
mod model;

use crate::cli::{CheckArgs, Command, MutantsArgs, RunArgs, SimArgs};
use crate::exit::Exit;
use crate::progress::Progress;
use crate::run::run_once;
use anyhow::{Context, Result};
use flags::run_plan;
use synod_checker::Report;
use synod_node::paxos::Bug;

/// `explicit`: the flags given on the command line (to refuse them with `--replay`).
pub fn dispatch(command: Command, explicit: &[String]) -> Result<Exit> {
    match command {
        Command::Run(args) => run(args, explicit),
        Command::Soak(args) => crate::soak::soak_command(flags::soak_plan(&args)?),
        Command::Check(args) => check(args),
        Command::Ls(args) => crate::inspect::ls::ls(&args.runs_dir),
        Command::Show(a) => crate::inspect::show::show(crate::inspect::show::ShowRequest {
            run: a.run,
            runs_dir: a.runs_dir,
            instance: a.instance,
            events: a.events,
            from: a.from,
            to: a.to,
            nodes: a.nodes,
        }),
        Command::Compare(args) => crate::inspect::compare::compare(&args.runs, &args.runs_dir),
        Command::Merge(args) => crate::soak::merge::merge_command(&args.dirs, &args.runs_dir),
        Command::Bench(a) => crate::bench::bench(crate::bench::BenchPlan {
            runs_dir: a.runs_dir,
            time_s: a.time,
            json: a.json,
        }),
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
        Command::Mutants(args) => mutants(args, explicit),
        Command::Sim(args) => sim(args, explicit),
        Command::Shrink(a) => crate::shrink::shrink_command(crate::shrink::ShrinkPlan {
            run: a.run,
            runs_dir: a.runs_dir,
            quiet: a.quiet,
            budget_s: a.budget_s,
        }),
        Command::Model(args) => model::model(args),
        Command::Node => unreachable!("handled in main"),
    }
}

fn mutants(args: MutantsArgs, explicit: &[String]) -> Result<Exit> {
    if args.list {
        for bug in Bug::ALL {
            println!("{}", bug.name());
        }
        return Ok(Exit::Ok);
    }
    if args.describe {
        for bug in Bug::ALL {
            println!("{:28} {}", bug.name(), bug.describe());
        }
        return Ok(Exit::Ok);
    }
    crate::soak::hunt::mutants_command(flags::hunt_plan(&args, explicit)?)
}

fn run(args: RunArgs, explicit: &[String]) -> Result<Exit> {
    let (cfg, schedule) = run_plan(&args, explicit)?;
    let mut progress = Progress::for_run(cfg.quiet);
    let outcome = run_once(cfg, schedule, &mut progress)?;
    print_outcome(&outcome, &args)
}

/// `synod sim`: one simulated run, reported as `synod run` reports a real one; with --runs
/// or --budget-s, a soak of simulated runs (crate::soak).
fn sim(args: SimArgs, explicit: &[String]) -> Result<Exit> {
    if args.runs.is_some() || args.budget_s.is_some() {
        return crate::soak::soak_command(flags::sim_soak_plan(&args)?);
    }
    let (cfg, schedule) = flags::sim_plan(&args, explicit)?;
    // A replay keeps the recorded `quiet` (it is in the history's first line); -q is the flag's.
    let mut progress = Progress::for_run(args.run.cluster.quiet);
    let argv: Vec<String> = std::env::args().collect();
    let started = std::time::Instant::now();
    let simulated_s = cfg.time_s;
    let outcome = crate::run::sim_once(cfg, schedule, &argv, &mut progress, true)?;
    let code = print_outcome(&outcome, &args.run)?;
    if !args.run.cluster.quiet {
        let wall_s = started.elapsed().as_secs_f64();
        let check_s = outcome.check_s;
        println!("simulated: {simulated_s} s of workload in {wall_s:.2} s of wall time ({check_s:.2} s of it the check)");
    }
    Ok(code)
}

/// What `synod run` and `synod sim` print at the end of a run; the exit code of its verdict.
fn print_outcome(outcome: &crate::run::RunOutcome, args: &RunArgs) -> Result<Exit> {
    let quiet = args.cluster.quiet;
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
