//! The subcommands: turn parsed arguments into configs, run, and print results.

use crate::cli::{CheckArgs, Command, MutantsArgs, RunArgs};
use crate::nodes::parse_list;
use crate::run::config::RunConfig;
use anyhow::{bail, Context, Result};
use synod_checker::Report;
use synod_node::paxos::{Bug, Tuning};

/// Exit code for usage errors, unreadable input and a bench that could not run.
pub const EXIT_ERROR: i32 = 2;

pub fn dispatch(command: Command) -> Result<i32> {
    match command {
        Command::Run(args) => run(args),
        Command::Check(args) => check(args),
        Command::Mutants(args) => mutants(args),
        Command::Node => unreachable!("handled in main"),
    }
}

pub fn run_config(a: &RunArgs) -> Result<RunConfig> {
    let n = a.nodes;
    let list = |flag: &str, text: &str| parse_list(text, n).map_err(|e| anyhow::anyhow!("--{flag}: {e}"));
    let nemesis: Vec<String> =
        a.nemesis.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    for fault in &nemesis {
        if fault != "none" {
            bail!("--nemesis {fault}: not available yet; this version knows only `none` (plus --loss and --delay-ms)");
        }
    }
    if !(0.0..=1.0).contains(&a.loss) {
        bail!("--loss {}: a probability must be between 0 and 1", a.loss);
    }
    if a.delay_ms < 0.0 || a.time < 0.0 || a.final_s < 0.0 {
        bail!("--delay-ms, --time and --final-s must not be negative");
    }
    let bug = a.bug.as_deref().map(str::parse::<Bug>).transpose().context("--bug")?;
    let tuning =
        Tuning { phase_timeout_ms: a.phase_timeout_ms, backoff: !a.no_backoff, bug, ..Tuning::default() };
    Ok(RunConfig {
        nodes: n,
        acceptors: list("acceptors", &a.acceptors)?,
        proposers: list("proposers", &a.proposers)?,
        learners: list("learners", &a.learners)?,
        node_cmd: a.node_cmd.clone(),
        time_s: a.time,
        instances: a.instances,
        concurrency: a.concurrency as usize,
        contention: a.contention as usize,
        op_timeout_ms: a.op_timeout_ms,
        final_s: a.final_s,
        seed: a.seed.unwrap_or_else(crate::run::random_u64),
        runs_dir: a.runs_dir.clone(),
        trace: a.trace,
        quiet: a.quiet,
        nemesis,
        loss: a.loss,
        delay_ms: a.delay_ms,
        delay_dist: a.delay_dist,
        bug_nodes: list("bug-nodes", &a.bug_nodes)?,
        tuning,
    })
}

fn run(args: RunArgs) -> Result<i32> {
    let cfg = run_config(&args)?;
    let quiet = cfg.quiet;
    let argv: Vec<String> = std::env::args().collect();
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start tokio")?;
    let outcome = runtime.block_on(async {
        let shutdown = synod_node::runtime::process::shutdown_signal();
        crate::run::run(cfg, argv, shutdown).await
    })?;
    if !quiet || outcome.report.exit_code() != 0 {
        print!("{}", summary(&outcome.report));
        println!("run: {}", outcome.run_dir.display());
    }
    if outcome.interrupted {
        eprintln!("(interrupted: the workload was cut short)");
    }
    Ok(outcome.report.exit_code())
}

/// The short summary printed at the end of `synod run`.
pub fn summary(report: &Report) -> String {
    report.render_text()
}

fn check(args: CheckArgs) -> Result<i32> {
    let path = crate::rundir::resolve(&args.run, &args.runs_dir);
    let report = match synod_checker::check_path(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: {e}");
            return Ok(EXIT_ERROR);
        }
    };
    if path.is_dir() {
        synod_checker::write_report_json(&path, &report).context("cannot write report.json")?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render_text());
    }
    Ok(report.exit_code())
}

fn mutants(args: MutantsArgs) -> Result<i32> {
    for bug in Bug::ALL {
        if args.list {
            println!("{}", bug.name());
        } else {
            println!("{:28} {}", bug.name(), bug.describe());
        }
    }
    Ok(0)
}
