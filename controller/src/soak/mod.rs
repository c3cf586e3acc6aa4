//! `synod soak`: back-to-back runs, each with its own seed and a swarm-drawn nemesis (see
//! swarm.rs), each recorded as an ordinary run folder and listed in the soak's `soak.json`.
//! It stops at the first safety violation (unless `--keep-going`) and prints the command
//! that replays it.
//!
//! All runs share one runtime and one interrupt counter: Ctrl-C lets the current run heal,
//! converge and be checked, then ends the soak.

pub mod summary;
pub mod swarm;

use crate::cli::SoakArgs;
use crate::commands::{cluster_config, nemesis_config, EXIT_ERROR};
use crate::nemesis::generate::generate;
use crate::progress::Progress;
use crate::run::shutdown::Shutdown;
use crate::rundir::RunDir;
use anyhow::{Context, Result};
use summary::{RunRecord, SoakSummary, Totals};
use synod_node::paxos::rng::Rng;
use tokio::time::Instant;

pub fn soak_command(args: SoakArgs) -> Result<i32> {
    if args.time.is_some_and(|t| !(t > 0.0 && t.is_finite())) || !(args.time_per_run.is_finite() && args.time_per_run >= 0.0) {
        anyhow::bail!("--time and --time-per-run must be positive numbers of seconds");
    }
    let base = nemesis_config(&args.nemesis)?;
    // Fail on bad cluster flags now, not in the first run.
    cluster_config(&args.cluster, base.clone(), args.time_per_run, 0)?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start tokio")?;
    let (summary, bench_error) = runtime.block_on(soak(&args, base))?;
    print!("{}", summary.render());
    println!("soak: {}", args.cluster.runs_dir.join(&summary.soak_id).display());
    if let Some(e) = bench_error {
        eprintln!("Error: {e:#}");
        return Ok(EXIT_ERROR);
    }
    let t = &summary.totals;
    Ok(if t.safety_violations > 0 {
        1
    } else if t.liveness_failures > 0 {
        3
    } else {
        0
    })
}

/// Runs the soak; a run that could not be run at all ends it and comes back as the error.
async fn soak(
    args: &SoakArgs,
    base: crate::nemesis::NemesisConfig,
) -> Result<(SoakSummary, Option<anyhow::Error>)> {
    let seed = args.seed.unwrap_or_else(crate::run::random_u64);
    let dir = RunDir::create_prefixed(&args.cluster.runs_dir, "soak-")?;
    let argv: Vec<String> = std::env::args().collect();
    let mut summary = SoakSummary {
        soak_id: dir.id.clone(),
        seed,
        command_line: argv.clone(),
        started_at: crate::rundir::utc_stamp(std::time::SystemTime::now()),
        stopped_early: None,
        totals: Totals::default(),
        runs: Vec::new(),
    };
    summary.write(&dir.path)?;
    let shutdown = Shutdown::listen();
    let started = Instant::now();
    let units = match (args.runs, args.time) {
        (Some(runs), _) => runs,
        (None, Some(s)) => (s * 10.0) as u64,
        (None, None) => unreachable!("clap requires --runs or --time"),
    };
    let mut progress = Progress::for_soak(args.cluster.quiet, units);
    let mut rng = Rng::new(seed);
    let mut bench_error = None;
    for index in 1.. {
        let elapsed_s = started.elapsed().as_secs_f64();
        if args.runs.is_some_and(|n| index > n) || args.time.is_some_and(|s| elapsed_s >= s) {
            break;
        }
        if shutdown.count() > 0 {
            summary.stopped_early = Some("interrupted".into());
            break;
        }
        let run_seed = rng.next_u64();
        let nemesis = swarm::draw(&base, &mut rng);
        let mut cfg = cluster_config(&args.cluster, nemesis.clone(), args.time_per_run, run_seed)?;
        cfg.quiet = true;
        let schedule = generate(&cfg.nemesis, cfg.nodes, (cfg.time_s * 1e6) as u64, cfg.seed);
        let t = &summary.totals;
        progress.set_prefix(format!(
            "run {index}{} | {} decided, {} unsafe, {} not live | {} | ",
            args.runs.map(|n| format!("/{n}")).unwrap_or_default(),
            t.decisions,
            t.safety_violations,
            t.liveness_failures,
            nemesis.names()
        ));
        let outcome = match crate::run::run(cfg, schedule, &argv, &mut progress, shutdown.clone()).await {
            Ok(o) => o,
            Err(e) => {
                summary.stopped_early = Some(format!("run {index} could not run: {e:#}"));
                bench_error = Some(e);
                break;
            }
        };
        let report = &outcome.report;
        let record = RunRecord {
            index,
            run_id: outcome.run_id.clone(),
            path: outcome.run_dir.clone(),
            seed: run_seed,
            nemesis,
            verdict: format!("{:?}", report.verdict).to_lowercase(),
            exit_code: report.exit_code(),
            safe: report.safe,
            live: report.live,
            violated: report.safety.iter().filter(|r| !r.ok).map(|r| r.rule.clone()).collect(),
            decisions: report.figures.decisions,
            exercised: outcome.exercised.clone(),
            final_errors: outcome.final_errors.clone(),
            replay: format!("synod run --replay {}", outcome.run_dir.display()),
        };
        summary.totals.add(&record);
        if !record.safe {
            progress.println(&format!(
                "run {index}: safety violated ({}); replay with: {}",
                record.violated.join(", "),
                record.replay
            ));
        } else if record.live == Some(false) {
            progress.println(&format!("run {index}: not live; replay with: {}", record.replay));
        }
        let unsafe_run = !record.safe;
        summary.runs.push(record);
        summary.write(&dir.path)?;
        progress.set_position(match args.runs {
            Some(_) => index,
            None => (started.elapsed().as_secs_f64() * 10.0) as u64,
        });
        if unsafe_run && !args.keep_going {
            summary.stopped_early = Some(format!("safety violated in run {index} (--keep-going goes on)"));
            break;
        }
        if outcome.workload_cut || outcome.interrupted {
            summary.stopped_early = Some("interrupted".into());
            break;
        }
    }
    progress.finish();
    summary.write(&dir.path)?;
    Ok((summary, bench_error))
}
