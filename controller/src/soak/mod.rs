//! `synod soak`: back-to-back runs, each with its own seed and a swarm-drawn nemesis (see
//! swarm.rs), each recorded as an ordinary run folder and listed in the soak's `soak.json`.
//! It stops at the first safety violation (unless `--keep-going`) and prints the command
//! that replays it. `synod mutants` (hunt.rs) soaks each mutant in turn.
//!
//! All runs share one runtime and one interrupt counter: Ctrl-C lets the current run heal,
//! converge and be checked, then ends the soak.

pub mod hunt;
pub mod summary;
pub mod swarm;

use crate::cli::{ClusterArgs, SoakArgs};
use crate::commands::{cluster_config, generated_schedule, nemesis_config, EXIT_ERROR};
use crate::nemesis::NemesisConfig;
use crate::progress::Progress;
use crate::run::shutdown::Shutdown;
use crate::rundir::RunDir;
use anyhow::{Context, Result};
use summary::{RunRecord, SoakSummary, Totals};
use synod_node::paxos::rng::Rng;
use tokio::time::Instant;

/// What a soak does.
#[derive(Debug, Clone)]
pub struct SoakPlan {
    /// The cluster, workload and mutant of every run.
    pub cluster: ClusterArgs,
    /// The pool of faults and the mean intensities each run's draw is made around.
    pub base: NemesisConfig,
    pub runs: Option<u64>,
    /// Seconds for the whole soak: no run starts after it is spent.
    pub time_s: Option<f64>,
    pub time_per_run_s: f64,
    pub seed: u64,
    pub keep_going: bool,
    /// Whether the soak moves the progress bar (not when it is one step of a mutant hunt).
    pub moves_bar: bool,
}

impl SoakPlan {
    pub fn from_args(args: &SoakArgs) -> Result<SoakPlan> {
        let plan = SoakPlan {
            cluster: args.cluster.clone(),
            base: nemesis_config(&args.nemesis)?,
            runs: args.runs,
            time_s: args.time,
            time_per_run_s: args.time_per_run,
            seed: args.seed.unwrap_or_else(crate::run::random_u64),
            keep_going: args.keep_going,
            moves_bar: true,
        };
        // Fail on bad cluster flags now, not in the first run.
        cluster_config(&plan.cluster, plan.base.clone(), plan.time_per_run_s, 0)?;
        Ok(plan)
    }

    /// Units of the soak's progress bar: runs, or tenths of a second.
    pub fn progress_units(&self) -> u64 {
        match (self.runs, self.time_s) {
            (Some(runs), _) => runs,
            (None, Some(s)) => (s * 10.0) as u64,
            (None, None) => 1,
        }
    }
}

pub fn soak_command(args: SoakArgs) -> Result<i32> {
    let plan = SoakPlan::from_args(&args)?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start tokio")?;
    let mut progress = Progress::for_soak(plan.cluster.quiet, plan.progress_units());
    let (summary, bench_error) = runtime.block_on(async {
        let result = soak(&plan, &mut progress, Shutdown::listen(), "").await;
        progress.finish();
        result
    })?;
    print!("{}", summary.render());
    println!("soak: {}", plan.cluster.runs_dir.join(&summary.soak_id).display());
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

/// Runs a soak; a run that could not be run at all ends it and comes back as the error.
/// `label` goes before the soak's totals on the progress line.
pub async fn soak(
    plan: &SoakPlan,
    progress: &mut Progress,
    shutdown: Shutdown,
    label: &str,
) -> Result<(SoakSummary, Option<anyhow::Error>)> {
    let dir = RunDir::create_prefixed(&plan.cluster.runs_dir, "soak-")?;
    let argv: Vec<String> = std::env::args().collect();
    let mut summary = SoakSummary {
        soak_id: dir.id.clone(),
        path: dir.path.clone(),
        seed: plan.seed,
        bug: plan.cluster.bug.clone(),
        command_line: argv.clone(),
        started_at: crate::rundir::utc_stamp(std::time::SystemTime::now()),
        stopped_early: None,
        totals: Totals::default(),
        runs: Vec::new(),
    };
    summary.write(&dir.path)?;
    let started = Instant::now();
    let mut rng = Rng::new(plan.seed);
    let mut bench_error = None;
    for index in 1.. {
        let elapsed_s = started.elapsed().as_secs_f64();
        if plan.runs.is_some_and(|n| index > n) || plan.time_s.is_some_and(|s| elapsed_s >= s) {
            break;
        }
        if shutdown.count() > 0 {
            summary.stopped_early = Some("interrupted".into());
            break;
        }
        let run_seed = rng.next_u64();
        let nemesis = swarm::draw(&plan.base, &mut rng);
        let mut cfg = cluster_config(&plan.cluster, nemesis.clone(), plan.time_per_run_s, run_seed)?;
        cfg.quiet = true;
        // The workload is drawn too: contention from 1 (no duelling) to twice `--contention`
        // less one, so that its mean is `--contention`.
        let drawn = 1 + rng.below((2 * plan.cluster.contention).saturating_sub(1).max(1)) as usize;
        cfg.contention = drawn.min(crate::limits::MAX_CONTENTION);
        let schedule = generated_schedule(&cfg)?;
        let t = &summary.totals;
        progress.set_prefix(format!(
            "{label}run {index}{} | {} decided, {} unsafe, {} not live | {} | ",
            plan.runs.map(|n| format!("/{n}")).unwrap_or_default(),
            t.decisions,
            t.safety_violations,
            t.liveness_failures,
            nemesis.names()
        ));
        let outcome = match crate::run::run(cfg, schedule, &argv, progress, shutdown.clone()).await {
            Ok(o) => o,
            Err(e) => {
                // An aborted run (nodes that cannot start) would abort every later run too.
                // The summary keeps the first line; the whole error (log paths) is printed.
                let error = format!("{e:#}");
                let first = error.lines().next().unwrap_or_default();
                summary.stopped_early = Some(format!("run {index} could not run: {first}"));
                bench_error = Some(e);
                break;
            }
        };
        let record = RunRecord::new(index, run_seed, nemesis, &outcome, started.elapsed().as_secs_f64());
        summary.totals.add(&record);
        if !record.safe {
            progress.println(&format!(
                "{label}run {index}: safety violated ({}); replay with: {}",
                record.violated.join(", "),
                record.replay
            ));
        } else if record.live == Some(false) {
            progress.println(&format!("{label}run {index}: not live; replay with: {}", record.replay));
        }
        let unsafe_run = !record.safe;
        summary.runs.push(record);
        summary.write(&dir.path)?;
        if plan.moves_bar {
            progress.set_position(match plan.runs {
                Some(_) => index,
                None => (started.elapsed().as_secs_f64() * 10.0) as u64,
            });
        }
        if unsafe_run && !plan.keep_going {
            summary.stopped_early = Some(format!("safety violated in run {index} (--keep-going goes on)"));
            break;
        }
        if outcome.workload_cut || outcome.interrupted {
            summary.stopped_early = Some("interrupted".into());
            break;
        }
    }
    summary.write(&dir.path)?;
    Ok((summary, bench_error))
}
