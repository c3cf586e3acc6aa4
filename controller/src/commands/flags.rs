//! Flags to plans: the shared cluster and nemesis flags become a validated [`RunConfig`]
//! and a nemesis [`Schedule`], once, for `run`, `soak` and `mutants`. Clap's types stop here:
//! everything below the commands takes the typed plans (plan.rs, [`SoakPlan`]).

use crate::cli::{ClusterArgs, MutantsArgs, NemesisArgs, RunArgs, ShardArgs, SimArgs, SoakArgs};
use crate::limits;
use crate::nemesis::{file, FaultKind, NemesisConfig, Schedule};
use crate::nodes::parse_list;
use crate::plan::{generated_schedule, replay_plan, require_power};
use crate::run::config::{RunConfig, ScheduleSource};
use crate::soak::hunt::HuntPlan;
use crate::soak::keep::Keep;
use crate::soak::shard::Shard;
use crate::soak::SoakPlan;
use anyhow::{bail, Context, Result};
use synod_node::paxos::{Bug, Tuning};

pub fn nemesis_config(a: &NemesisArgs) -> Result<NemesisConfig> {
    nemesis_config_with(a, crate::lazyfs::available)
}

/// [`nemesis_config`] where power losses are possible when `power` says so (a real run needs
/// the lazy filesystem; a simulated one always can).
fn nemesis_config_with(a: &NemesisArgs, power: fn() -> Result<(), String>) -> Result<NemesisConfig> {
    let mut faults = FaultKind::parse_list(&a.nemesis).map_err(|e| anyhow::anyhow!("--nemesis: {e}"))?;
    let warning = crate::nemesis::check_power(&a.nemesis, &mut faults, power)
        .map_err(|e| anyhow::anyhow!("--nemesis: {e}"))?;
    if let Some(warning) = warning {
        tracing::warn!("--nemesis: {warning}");
    }
    let cfg = NemesisConfig {
        faults,
        interval_s: a.nemesis_interval_s,
        loss: a.loss,
        delay_ms: a.delay_ms,
        delay_dist: a.delay_dist.into(),
        duplicate: a.duplicate,
        reorder: a.reorder,
        reorder_ms: a.reorder_ms,
        down_ms: a.down_ms,
        pause_ms: a.pause_ms,
        crash_p: a.crash_p,
    };
    cfg.validate().map_err(|e| anyhow::anyhow!(e.as_flag()))?;
    Ok(cfg)
}

/// A run's config from the shared cluster flags; `time_s` and `seed` come from the caller.
pub fn cluster_config(a: &ClusterArgs, nemesis: NemesisConfig, time_s: f64, seed: u64) -> Result<RunConfig> {
    let n = a.nodes;
    if !(1..=limits::MAX_NODES).contains(&n) {
        bail!("--nodes {n}: must be from 1 to {}", limits::MAX_NODES);
    }
    let list = |flag: &str, text: &str| parse_list(text, n).map_err(|e| anyhow::anyhow!("--{flag}: {e}"));
    let bug = a.bug.as_deref().map(str::parse::<Bug>).transpose().context("--bug")?;
    let tuning = Tuning {
        phase_timeout_ms: a.phase_timeout_ms,
        backoff: !a.no_backoff,
        fast_round: !a.no_fast_round,
        retain_decided: a.retain_decided,
        compact_log_bytes: a.compact_log_bytes,
        bug,
        ..Tuning::default()
    };
    let cfg = RunConfig {
        nodes: n,
        acceptors: list("acceptors", &a.acceptors)?,
        proposers: list("proposers", &a.proposers)?,
        learners: list("learners", &a.learners)?,
        node_cmd: a.node_cmd.clone(),
        time_s,
        instances: None,
        concurrency: a.concurrency as usize,
        contention: a.contention as usize,
        revisit: a.revisit,
        op_timeout_ms: a.op_timeout_ms,
        final_s: a.final_s,
        seed,
        runs_dir: a.runs_dir.clone(),
        trace: a.trace.into(),
        quiet: a.quiet,
        nemesis,
        schedule: ScheduleSource::Generated,
        bug_nodes: list("bug-nodes", &a.bug_nodes)?,
        tuning,
        lazy_fs: a.lazy_fs,
        history_format: a.history_format,
    };
    cfg.validate().map_err(|e| anyhow::anyhow!(e.as_flag()))?;
    Ok(cfg)
}

/// The config and the nemesis schedule of `synod run`.
pub fn run_plan(a: &RunArgs, explicit: &[String]) -> Result<(RunConfig, Schedule)> {
    if let Some(run) = &a.replay {
        let extra: Vec<&String> = explicit
            .iter()
            .filter(|f| !["replay", "runs_dir", "quiet", "report", "history_format"].contains(&f.as_str()))
            .collect();
        if !extra.is_empty() {
            let names: Vec<String> = extra.iter().map(|f| format!("--{}", f.replace('_', "-"))).collect();
            bail!(
                "--replay takes the recorded run's settings; it cannot be combined with {}",
                names.join(", ")
            );
        }
        return replay_plan(run, &a.cluster.runs_dir, a.cluster.quiet, a.cluster.history_format);
    }
    let seed = a.seed.unwrap_or_else(crate::run::random_u64);
    let mut cfg = cluster_config(&a.cluster, nemesis_config(&a.nemesis)?, a.time, seed)?;
    cfg.instances = a.instances;
    let schedule = schedule_of(&mut cfg, a.schedule.as_deref())?;
    require_power(&schedule, "--schedule")?;
    if cfg.lazy_fs {
        crate::lazyfs::available().map_err(|why| anyhow::anyhow!("--lazy-fs: {why}"))?;
    }
    Ok((cfg, schedule))
}

/// The schedule of `--schedule FILE` (recorded as the config's source), or else the one
/// generated from the config.
fn schedule_of(cfg: &mut RunConfig, schedule_flag: Option<&std::path::Path>) -> Result<Schedule> {
    match schedule_flag {
        Some(path) => {
            cfg.schedule = ScheduleSource::File { path: path.to_path_buf() };
            file::read_schedule(path, cfg.nodes).map_err(anyhow::Error::msg)
        }
        None => generated_schedule(cfg),
    }
}

/// The plan of one `synod sim` run: `synod run`'s flags, less those that need real
/// processes, or, with `--replay RUN`, the recorded simulated run's plan (plan.rs). Power
/// losses need no lazy filesystem: the simulated disks lose unsynced writes themselves.
/// `explicit`: the flags given on the command line.
pub fn sim_plan(args: &SimArgs, explicit: &[String]) -> Result<(RunConfig, Schedule)> {
    let a = &args.run;
    if let Some(run) = &a.replay {
        let allowed = ["replay", "runs_dir", "quiet", "report"];
        let extra: Vec<String> = explicit
            .iter()
            .filter(|f| !allowed.contains(&f.as_str()))
            .map(|f| format!("--{}", f.replace('_', "-")))
            .collect();
        if !extra.is_empty() {
            bail!(
                "--replay takes the recorded simulation's settings; it cannot be combined with {}",
                extra.join(", ")
            );
        }
        let runs_dir = explicit.iter().any(|f| f == "runs_dir").then_some(a.cluster.runs_dir.as_path());
        return crate::plan::sim_replay_plan(run, runs_dir, &a.cluster.runs_dir);
    }
    let swarm_only: Vec<String> = ["keep_going", "keep", "shard", "shard_from_env"]
        .iter()
        .filter(|f| explicit.iter().any(|e| e == *f))
        .map(|f| format!("--{}", f.replace('_', "-")))
        .collect();
    if !swarm_only.is_empty() {
        bail!("{}: only for a swarm of simulated runs (with --runs or --budget-s)", swarm_only.join(", "));
    }
    let seed = a.seed.unwrap_or_else(crate::run::random_u64);
    let mut cfg = sim_config(args, seed)?;
    cfg.instances = a.instances;
    let schedule = schedule_of(&mut cfg, a.schedule.as_deref())?;
    Ok((cfg, schedule))
}

/// A simulated run's config from `synod run`'s flags, refusing those that need processes.
fn sim_config(args: &SimArgs, seed: u64) -> Result<RunConfig> {
    let a = &args.run;
    refuse_process_flags(&a.cluster)?;
    let nemesis = nemesis_config_with(&a.nemesis, || Ok(()))?;
    cluster_config(&a.cluster, nemesis, a.time, seed)
}

fn refuse_process_flags(a: &ClusterArgs) -> Result<()> {
    if a.node_cmd.is_some() {
        bail!("--node-cmd: a simulation runs only the built-in node; a node of your own needs `synod run`");
    }
    if a.lazy_fs {
        bail!("--lazy-fs: a simulation's disks are simulated, and lose unsynced writes on a power loss by themselves");
    }
    Ok(())
}

/// The plan of `synod sim --runs N` / `--budget-s S`: `synod soak`'s, every run simulated,
/// each run's workload `--time` simulated seconds; --instances applies to every run.
pub fn sim_soak_plan(args: &SimArgs) -> Result<SoakPlan> {
    let seed = args.run.seed.unwrap_or_else(crate::run::random_u64);
    let mut run = sim_config(args, seed)?;
    run.instances = args.run.instances;
    Ok(SoakPlan {
        run,
        runs: args.runs,
        time_s: args.budget_s,
        seed,
        keep_going: args.keep_going,
        keep: args.keep,
        moves_bar: true,
        simulated: true,
        shard: shard(&args.shard)?,
    })
}

/// `--shard K/N`, or `--shard-from-env` read now; the whole soak without either.
pub fn shard(a: &ShardArgs) -> Result<Shard> {
    if a.shard_from_env {
        return Ok(crate::soak::shard::from_env(|name| std::env::var(name).ok())?);
    }
    Ok(a.shard.unwrap_or(Shard::WHOLE))
}

/// The plan of `synod soak`: the run every soak run starts from (its nemesis the pool each
/// run draws from). `soak_command` checks it (`SoakPlan::validate`) before the first run.
pub fn soak_plan(a: &SoakArgs) -> Result<SoakPlan> {
    refuse_keep_failing(a.keep)?;
    let seed = a.seed.unwrap_or_else(crate::run::random_u64);
    let run = cluster_config(&a.cluster, nemesis_config(&a.nemesis)?, a.time_per_run, seed)?;
    Ok(SoakPlan {
        run,
        runs: a.runs,
        time_s: a.time,
        seed,
        keep_going: a.keep_going,
        keep: a.keep,
        moves_bar: true,
        simulated: false,
        shard: shard(&a.shard)?,
    })
}

/// `synod mutants --time-per-run`'s default: seconds of workload in a run of processes, whose
/// start-up costs a second of its own.
const HUNT_TIME_PER_RUN_S: f64 = 3.0;
/// ... and in a simulated run: half a simulated second. A run's wall time grows with its
/// messages (a mutant that skips its fsyncs decides four times as fast), and most mutants show
/// in a run's first instances: shorter runs draw more swarms in the same wall time.
const SIM_HUNT_TIME_PER_RUN_S: f64 = 0.5;
/// A simulated hunt's `--contention` and `--revisit` when not given: more proposers duelling
/// for each instance and more ops revisiting decided ones, so that a short run still holds
/// the rare interleavings (a stale lower-ballot vote reported next to a higher one; an accept
/// ahead of its prepare) for every mutant alike (docs/mutants.md, "In simulation").
const SIM_HUNT_CONTENTION: usize = 4;
const SIM_HUNT_REVISIT: f64 = 0.3;

/// `--keep failing` drops the history of the run just judged, which only a simulated run can
/// spare: its replay writes it again, where a run of processes replays only its faults.
fn refuse_keep_failing(keep: Keep) -> Result<()> {
    if keep == Keep::Failing {
        bail!("--keep failing: only for simulated runs (synod sim --runs, synod mutants --sim), whose replay writes the same history again; keep `default`, `last:N` or `all` here");
    }
    Ok(())
}

/// The plan of `synod mutants` (not `--list` or `--describe`): which mutants, and the soak
/// each is hunted with, for `--budget-s` seconds each.
/// `explicit`: the flags given on the command line (a simulated hunt's own defaults give way to them).
pub fn hunt_plan(a: &MutantsArgs, explicit: &[String]) -> Result<HuntPlan> {
    if a.cluster.bug.is_some() {
        bail!("synod mutants sets --bug itself; choose mutants with --only");
    }
    let bugs: Vec<Bug> = match &a.only {
        Some(list) => {
            list.split(',').map(|s| s.trim().parse::<Bug>()).collect::<Result<_, _>>().context("--only")?
        }
        None => Bug::ALL.to_vec(),
    };
    let seed = a.seed.unwrap_or_else(crate::run::random_u64);
    let nemesis = if a.sim {
        refuse_process_flags(&a.cluster)?;
        nemesis_config_with(&a.nemesis, || Ok(()))?
    } else {
        nemesis_config(&a.nemesis)?
    };
    let time_per_run_s =
        a.time_per_run.unwrap_or(if a.sim { SIM_HUNT_TIME_PER_RUN_S } else { HUNT_TIME_PER_RUN_S });
    let mut run = cluster_config(&a.cluster, nemesis, time_per_run_s, 0)?;
    if a.sim {
        let given = |flag: &str| explicit.iter().any(|f| f == flag);
        if !given("contention") {
            run.contention = SIM_HUNT_CONTENTION;
        }
        if !given("revisit") {
            run.revisit = SIM_HUNT_REVISIT;
        }
        run.validate().map_err(|e| anyhow::anyhow!(e.as_flag()))?;
    }
    let default_keep = if a.sim { Keep::Failing } else { Keep::default() };
    if !a.sim {
        refuse_keep_failing(a.keep.unwrap_or(default_keep))?;
    }
    let soak = SoakPlan {
        run,
        runs: None,
        time_s: Some(a.budget_s),
        seed,
        keep_going: false,
        keep: a.keep.unwrap_or(default_keep),
        moves_bar: false,
        simulated: a.sim,
        shard: Shard::WHOLE,
    };
    Ok(HuntPlan { bugs, soak })
}

/// The plan of `synod run FLAGS`, parsed and checked exactly as on the command line: for the
/// tests that hold a typed plan (the bench's) to the flags a user would type for it.
#[cfg(test)]
fn plan_from_flags(flags: &[&str]) -> Result<(RunConfig, Schedule)> {
    let mut argv = vec!["synod", "run"];
    argv.extend_from_slice(flags);
    let crate::cli::Command::Run(args) =
        <crate::cli::Cli as clap::Parser>::try_parse_from(&argv).context("run flags")?.command
    else {
        unreachable!("parsed a run")
    };
    run_plan(&args, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::FaultKind;

    /// `RunConfig::defaults` is what the flags give when none is set: the bench, the scenarios
    /// and the soak plan from it, so a changed flag default must change it too.
    #[test]
    fn the_defaults_are_the_flags_defaults() {
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(["synod", "run", "--seed", "7"]).unwrap();
        let crate::cli::Command::Run(args) = cli.command else { panic!("parsed a run") };
        let (parsed, _) = run_plan(&args, &[]).unwrap();
        let mut want = RunConfig::defaults(5, 7);
        // Without FUSE, `all` leaves the power faults out (with a warning): every other fault stays.
        let power: Vec<FaultKind> = FaultKind::ALL.iter().copied().filter(|k| k.cuts_power()).collect();
        assert!(want.nemesis.faults.iter().all(|k| parsed.nemesis.faults.contains(k) || power.contains(k)));
        want.nemesis.faults = parsed.nemesis.faults.clone();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), serde_json::to_value(&want).unwrap());
        let mut other = RunConfig::defaults(5, 7);
        other.concurrency = 9;
        assert_ne!(serde_json::to_value(&parsed).unwrap(), serde_json::to_value(&other).unwrap());
    }

    /// The bench's typed plans (bench/plan.rs) are the flag lists the bench passed before
    /// them: the same configs, and a user who runs those flags measures the same runs.
    mod bench_plans {
        use super::super::{cluster_config, nemesis_config, plan_from_flags};
        use crate::bench::plan::*;
        use crate::nemesis::Schedule;
        use crate::run::config::RunConfig;
        use synod_checker::HistoryFormat;

        const TIME_S: f64 = 1.5;

        /// Each measured run beside the flags the bench gave `synod run` for it.
        fn measured_runs() -> [(Measured, &'static [&'static str]); 12] {
            [
                (N3, &["--nodes", "3", "--concurrency", "1"]),
                (N5, &["--nodes", "5", "--concurrency", "1"]),
                (N3_TWO_PHASE, &["--nodes", "3", "--concurrency", "1", "--no-fast-round"]),
                (C1, &["--nodes", "3", "--concurrency", "1"]),
                (C16, &["--nodes", "3", "--concurrency", "16"]),
                (C64, &["--nodes", "3", "--concurrency", "64"]),
                (C256, &["--nodes", "3", "--concurrency", "256"]),
                (C64_TRACE_OPS, &["--nodes", "3", "--concurrency", "64", "--trace", "ops"]),
                (C64_TWO_PHASE, &["--nodes", "3", "--concurrency", "64", "--no-fast-round"]),
                (C64_JSONL, &["--nodes", "3", "--concurrency", "64", "--history-format", "jsonl"]),
                (LAZY_FS_N3, &["--nodes", "3", "--concurrency", "1", "--lazy-fs"]),
                (LAZY_FS_C64, &["--nodes", "3", "--concurrency", "64", "--lazy-fs"]),
            ]
        }

        /// The config `synod run FLAGS` gives. Without FUSE, `--lazy-fs` is refused before the
        /// config is returned (and the bench makes no such run): then the config is the one the
        /// same flags build, through the function the command line goes through.
        fn from_flags(flags: &[&str]) -> RunConfig {
            match plan_from_flags(flags) {
                Ok((cfg, _)) => cfg,
                Err(e) => {
                    assert!(crate::lazyfs::available().is_err() && flags.contains(&"--lazy-fs"), "{e:#}");
                    let mut argv = vec!["synod", "run"];
                    argv.extend_from_slice(flags);
                    let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(&argv).unwrap();
                    let crate::cli::Command::Run(a) = cli.command else { panic!("parsed a run") };
                    let nemesis = nemesis_config(&a.nemesis).unwrap();
                    cluster_config(&a.cluster, nemesis, a.time, crate::run::random_u64()).unwrap()
                }
            }
        }

        fn json(cfg: &RunConfig) -> serde_json::Value {
            serde_json::to_value(cfg).unwrap()
        }

        #[test]
        fn each_measured_run_is_the_run_its_old_flags_gave() {
            let runs = std::env::temp_dir().join("synod-bench-plan");
            let dir = runs.to_str().unwrap();
            let t = TIME_S.to_string();
            for (run, extra) in measured_runs() {
                let mut flags = vec!["--nemesis", "none", "--contention", "1", "--revisit", "0"];
                flags.extend_from_slice(&["--runs-dir", dir, "-q", "--time", &t]);
                flags.extend_from_slice(extra);
                let old = from_flags(&flags);
                // The bench draws a random seed for each run: the one field not compared.
                let new = run.config(&runs, TIME_S, old.seed);
                assert_eq!(json(&new), json(&old), "{run:?} against {extra:?}");
                if crate::lazyfs::available().is_ok() || run.variant != Variant::LazyFs {
                    let (planned, schedule) = plan(new).unwrap();
                    assert_eq!(json(&planned), json(&old));
                    assert_eq!(schedule, Schedule::default(), "{run:?}: a fault-free run has no faults");
                }
            }
        }

        #[test]
        fn the_disk_runs_are_the_runs_their_old_flags_gave() {
            let runs = std::env::temp_dir().join("synod-bench-plan");
            let dir = runs.to_str().unwrap();
            for format in [HistoryFormat::Zst, HistoryFormat::Jsonl] {
                let f = format.to_string();
                let old = plan_from_flags(&[
                    "--time",
                    "3",
                    "--seed",
                    "16",
                    "--history-format",
                    &f,
                    "--runs-dir",
                    dir,
                    "-q",
                ])
                .unwrap();
                let new = plan(disk_config(&runs, 3.0, format).unwrap()).unwrap();
                assert_eq!(json(&new.0), json(&old.0), "{format}");
                assert_eq!(new.1, old.1, "{format}: the same seed, the same schedule");
                assert!(!new.1.timed.is_empty(), "the default settings inject faults");
            }
        }
    }
}

#[cfg(test)]
mod hunt_tests {
    use super::*;

    fn plan(flags: &[&str]) -> HuntPlan {
        let mut argv = vec!["synod", "mutants"];
        argv.extend_from_slice(flags);
        let matches = <crate::cli::Cli as clap::CommandFactory>::command().get_matches_from(&argv);
        let explicit = crate::cli::explicit_flags(&matches);
        let crate::cli::Command::Mutants(args) =
            <crate::cli::Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap().command
        else {
            unreachable!("parsed mutants")
        };
        hunt_plan(&args, &explicit).unwrap()
    }

    /// A simulated hunt has its own run length, contention and revisits; flags given win, and
    /// a hunt of processes keeps the flags' defaults.
    #[test]
    fn a_simulated_hunt_has_its_own_defaults_that_flags_override() {
        let sim = plan(&["--sim", "--seed", "1"]).soak.run;
        assert_eq!((sim.time_s, sim.contention, sim.revisit), (0.5, 4, 0.3));
        let given = plan(&["--sim", "--contention", "2", "--revisit", "0.1", "--time-per-run", "1"]).soak.run;
        assert_eq!((given.time_s, given.contention, given.revisit), (1.0, 2, 0.1));
        let processes = plan(&["--nemesis", "kill", "--seed", "1"]).soak.run;
        assert_eq!((processes.time_s, processes.contention, processes.revisit), (3.0, 2, 0.1));
    }
}
