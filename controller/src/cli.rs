//! The command line (clap). `main.rs` turns it into a `RunConfig` and calls the commands.
//! The bounds of a run's settings are checked on the `RunConfig` (whichever way it was built,
//! see `limits`); the flags that never become a `RunConfig` field get clap value parsers
//! with the same bounds.

use crate::limits;
use crate::net::faults::DelayDist;
use crate::run::config::Trace;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use synod_checker::HistoryFormat;

#[derive(Parser, Debug)]
#[command(name = "synod", version, about = "A Jepsen-style test bench for single-decree Paxos")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start a cluster, drive proposals through a faulty net, record and check the history.
    Run(RunArgs),
    /// Back-to-back runs, each with a random subset of faults and intensities (swarm testing).
    Soak(SoakArgs),
    /// Check a recorded run (a run folder, `latest`, or a history file, .jsonl or .jsonl.zst).
    Check(CheckArgs),
    /// One line a recorded run: time, id, seed, nodes, faults, mutant, verdict, decisions, p99.
    Ls(LsArgs),
    /// A run's summary and first anomaly; one instance as a message diagram; or its events.
    Show(ShowArgs),
    /// Runs side by side (run folders, or a soak folder): faults, safety, latency, drops.
    Compare(CompareArgs),
    /// Merge the shards of a soak campaign (`synod soak --shard K/N` folders copied back)
    /// into one soak: totals, faults, failing runs, duplicate and missing shards.
    Merge(MergeArgs),
    /// Write a self-contained report.html (charts, verdicts, message diagrams) in a run folder.
    Report(ReportArgs),
    /// The textbook cases of Paxos, scripted with real processes: `list`, or `run NAME`.
    Scenario(ScenarioArgs),
    /// Measure synod against the machine's floor: net round trip, fdatasync, decision
    /// latency, decisions per second, the checker.
    Bench(BenchArgs),
    /// Hunt the built-in node's mutants with soak runs, then soak the correct protocol.
    Mutants(MutantsArgs),
    /// Simulate a run: the built-in node's own code, every node in this one process, on a
    /// simulated clock, net and disk. The same flags and --seed write the same history, byte
    /// for byte (docs/sim.md). --runs or --budget-s: a swarm soak of simulated runs.
    Sim(SimArgs),
    /// Shrink a failing simulated run: search for a smaller run that breaks the same safety
    /// rule, and write the smallest found as a new run folder.
    Shrink(ShrinkArgs),
    /// Model-check the built-in core: visit every reachable state of a small cluster (the real
    /// node code, with crashes, loss and duplication) and check the safety rules at each;
    /// a violation is written as a run folder with the shortest path to it (docs/model.md).
    Model(ModelArgs),
    /// Run as a node (what the controller starts; configured by SYNOD_* variables).
    #[command(hide = true)]
    Node,
}

/// The cluster and its workload: shared by `run` and `soak`.
#[derive(Args, Debug, Clone)]
pub struct ClusterArgs {
    /// Number of node processes.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub nodes: u32,
    /// Nodes that are acceptors (e.g. `1,2,3`, `n1-n3`, `all`).
    #[arg(long, default_value = "all")]
    pub acceptors: String,
    /// Nodes that are proposers.
    #[arg(long, default_value = "all")]
    pub proposers: String,
    /// Nodes that are learners.
    #[arg(long, default_value = "all")]
    pub learners: String,
    /// Run this program as each node instead of the built-in one (see docs/protocol.md).
    #[arg(long)]
    pub node_cmd: Option<String>,
    /// Instances in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub concurrency: u64,
    /// Distinct proposers that propose each instance at nearly the same time.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub contention: u64,
    /// Share of new ops that instead revisit an instance already decided: a fresh value at
    /// another proposer, which a correct cluster answers with the decided value (0 to 1).
    #[arg(long, default_value_t = 0.1)]
    pub revisit: f64,
    /// An op with no answer after this long ends `info`.
    #[arg(long, default_value_t = 2_000)]
    pub op_timeout_ms: u64,
    /// Seconds the final phase waits, at most, for every instance to be learned everywhere.
    #[arg(long, default_value_t = 10.0)]
    pub final_s: f64,
    /// Where run folders go.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// `all` records every message; `ops` leaves message events out (very long runs).
    #[arg(long, value_enum, default_value_t = TraceFlag::All)]
    pub trace: TraceFlag,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run a mutant (see `synod mutants --list`) instead of the correct protocol.
    #[arg(long)]
    pub bug: Option<String>,
    /// Nodes that run the mutant (default: all).
    #[arg(long, default_value = "all")]
    pub bug_nodes: String,
    /// A proposer's phase with no quorum after this long is retried with a higher ballot.
    #[arg(long, default_value_t = 200)]
    pub phase_timeout_ms: u64,
    /// Retry at once after a failed phase (no randomised backoff): shows dueling livelock.
    #[arg(long)]
    pub no_backoff: bool,
    /// Every ballot runs both phases: no proposer takes round 0 of its instances without
    /// phase 1 (docs/protocol.md, "Round 0").
    #[arg(long)]
    pub no_fast_round: bool,
    /// Decisions each built-in node keeps live in memory; older ones are retired to its
    /// archive on disk and answered from there (docs/protocol.md, "Compaction").
    #[arg(long, default_value_t = 16_384)]
    pub retain_decided: usize,
    /// Each built-in node compacts its acceptor.log once it holds this many bytes (and twice
    /// what its last compaction left). Small values exercise compaction under faults.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub compact_log_bytes: u64,
    /// How the history is stored: `zst` (history.jsonl.zst, one zstd stream) or `jsonl`
    /// (plain history.jsonl). Every reader takes both (docs/history.md).
    #[arg(long, default_value_t = HistoryFormat::Zst)]
    pub history_format: HistoryFormat,
    /// Put the nodes' data dirs on the lazy filesystem even without power faults (to measure
    /// what it costs; docs/lazyfs.md). Needs FUSE.
    #[arg(long)]
    pub lazy_fs: bool,
}

/// The nemesis: which faults, how often and how hard (docs/nemesis.md). In a soak these are
/// the pool and the mean intensities each run's random choice is drawn around.
#[derive(Args, Debug, Clone)]
pub struct NemesisArgs {
    /// Faults to inject, a comma list: loss, delay, duplicate, reorder, partition, kill,
    /// pause, kill-all, crash-point, power-loss, power-loss-all; or `all`, or `none`.
    /// The power faults need FUSE; without it `all` leaves them out with a warning.
    #[arg(long, default_value = "all")]
    pub nemesis: String,
    /// Mean length in seconds of each fault window and each calm window (they alternate).
    #[arg(long, default_value_t = 3.0)]
    pub nemesis_interval_s: f64,
    /// Probability that the net loses a message while `loss` is on.
    #[arg(long, default_value_t = 0.2)]
    pub loss: f64,
    /// Mean message delay in milliseconds while `delay` is on.
    #[arg(long, default_value_t = 10.0)]
    pub delay_ms: f64,
    /// Distribution of the delay: constant, uniform (0 to twice the mean) or exponential.
    #[arg(long, value_enum, default_value_t = DelayDistFlag::Exponential)]
    pub delay_dist: DelayDistFlag,
    /// Probability that a message is delivered twice while `duplicate` is on.
    #[arg(long, default_value_t = 0.1)]
    pub duplicate: f64,
    /// Probability that a message is held back (and overtaken) while `reorder` is on.
    #[arg(long, default_value_t = 0.3)]
    pub reorder: f64,
    /// How long, at most, a reordered message is held back.
    #[arg(long, default_value_t = 50.0)]
    pub reorder_ms: f64,
    /// Mean time a killed node stays down before its restart.
    #[arg(long, default_value_t = 800.0)]
    pub down_ms: f64,
    /// Mean time a paused (SIGSTOPped) node stays paused.
    #[arg(long, default_value_t = 800.0)]
    pub pause_ms: f64,
    /// While `crash-point` is on: probability that a node sending the chosen message type
    /// is killed right after it.
    #[arg(long, default_value_t = 0.05)]
    pub crash_p: f64,
}

/// `--trace`: the flag's values for [`Trace`] (clap's types stay in this file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TraceFlag {
    /// Every message: send, recv, drop (the default).
    All,
    /// Client ops, learns, nemesis and process events only: for very long runs.
    Ops,
}

impl From<TraceFlag> for Trace {
    fn from(flag: TraceFlag) -> Trace {
        match flag {
            TraceFlag::All => Trace::All,
            TraceFlag::Ops => Trace::Ops,
        }
    }
}

/// `--delay-dist`: the flag's values for [`DelayDist`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DelayDistFlag {
    Constant,
    Uniform,
    Exponential,
}

impl From<DelayDistFlag> for DelayDist {
    fn from(flag: DelayDistFlag) -> DelayDist {
        match flag {
            DelayDistFlag::Constant => DelayDist::Constant,
            DelayDistFlag::Uniform => DelayDist::Uniform,
            DelayDistFlag::Exponential => DelayDist::Exponential,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub nemesis: NemesisArgs,
    /// Seconds of workload before the final phase.
    #[arg(long, default_value_t = 30.0)]
    pub time: f64,
    /// Stop after starting this many instances (the run ends early once all are done).
    #[arg(long)]
    pub instances: Option<u64>,
    /// Seed of every random choice (default: random; always recorded).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Take the nemesis's actions from this file instead of generating them (docs/nemesis.md).
    #[arg(long, conflicts_with = "replay")]
    pub schedule: Option<PathBuf>,
    /// Run a recorded run again: its config, seed and nemesis actions at the same times.
    /// Only --runs-dir, --quiet, --report and --history-format may be given with it.
    #[arg(long)]
    pub replay: Option<PathBuf>,
    /// Write report.html (see `synod report`) at the end of the run.
    #[arg(long)]
    pub report: bool,
}

/// Which of a soak's runs this process runs (docs/campaigns.md).
#[derive(Args, Debug, Clone, Default)]
pub struct ShardArgs {
    /// Run shard K of N: the runs whose index i (1, 2, ...) has (i - 1) mod N = K - 1. The
    /// shards of one --seed together are the whole soak, run for run (`synod merge`).
    #[arg(long, value_name = "K/N", value_parser = crate::soak::shard::shard_flag)]
    pub shard: Option<crate::soak::shard::Shard>,
    /// Take K and N from the scheduler: JOB_COMPLETION_INDEX (0-based) and SYNOD_SHARDS in a
    /// Kubernetes Indexed Job, or SLURM_ARRAY_TASK_ID, _MIN, _STEP and _COUNT in a Slurm array.
    #[arg(long, conflicts_with = "shard")]
    pub shard_from_env: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// The flags of `synod run`; --time is simulated seconds (of each run, with --runs or
    /// --budget-s). --node-cmd and --lazy-fs do not apply. --replay RUN replays a simulated
    /// run exactly from its meta.json (its config and seed; only --runs-dir, --quiet and
    /// --report may be given with it); a run of processes replays with `synod run --replay`.
    #[command(flatten)]
    pub run: RunArgs,
    /// A swarm soak of this many simulated runs (like `synod soak --runs`), each with its own
    /// seed and faults drawn from --seed.
    #[arg(long, conflicts_with_all = ["replay", "schedule"])]
    pub runs: Option<u64>,
    /// A swarm soak for this many seconds of wall time (like `synod soak --time`): no run
    /// starts after it is spent.
    #[arg(long, value_parser = limits::soak_seconds_flag, conflicts_with_all = ["replay", "schedule"])]
    pub budget_s: Option<f64>,
    /// With --runs or --budget-s: go on after a safety violation instead of stopping at the first.
    #[arg(long)]
    pub keep_going: bool,
    /// With --runs or --budget-s: which runs keep their history: `failing` (the default: a
    /// passing run keeps meta.json, report.json and schedule.jsonl, and its replay writes its
    /// history again), `default` (also the last 3 passing runs), `all`, or `last:N`.
    #[arg(long, value_name = "POLICY", default_value = "failing", value_parser = crate::soak::keep::keep_flag)]
    pub keep: crate::soak::keep::Keep,
    /// With --runs or --budget-s: one shard of the soak (as `synod soak --shard`).
    #[command(flatten)]
    pub shard: ShardArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ShrinkArgs {
    /// A simulated run folder that broke a safety rule, `latest`, or a run id under --runs-dir.
    pub run: PathBuf,
    /// Where run ids are looked up, and where the shrunk run folder goes.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Wall-clock seconds the search may take, at most (the smallest run found by then is kept).
    #[arg(long, default_value_t = 60.0, value_parser = limits::soak_seconds_flag)]
    pub budget_s: f64,
}

#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Nodes; each is an acceptor and a learner.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=9))]
    pub nodes: u32,
    /// Nodes n1.. that also propose; the client asks each once per instance.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=9))]
    pub proposers: u32,
    /// Instances 1..=N.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=8))]
    pub instances: u64,
    /// Ballots one proposal may use before it gives up.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub max_ballots: u32,
    /// Crash-restarts in a whole run (a crash loses what was not persisted).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=8))]
    pub crashes: u32,
    /// Re-sends of `decided` per learner.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=8))]
    pub decided_retries: u32,
    /// The net never delivers a message twice.
    #[arg(long)]
    pub no_duplicate: bool,
    /// Keep dead messages in the net (messages their receiver ignores in every state it can
    /// reach), node states whose records rebuild the same core apart, and states that differ
    /// only in the names of interchangeable nodes apart: every state is visited, not one per
    /// class of states that behave alike.
    #[arg(long)]
    pub no_reduction: bool,
    /// Keep states that differ only in the names of interchangeable nodes (those that do
    /// not propose) apart; the other reductions stay.
    #[arg(long)]
    pub no_symmetry: bool,
    /// Stop after this many unique states (the space is then not explored completely);
    /// about 200 bytes each. 0: no bound (the search may then fill the memory).
    #[arg(long, default_value_t = 10_000_000)]
    pub max_states: u64,
    /// Do not expand states this many steps from the start.
    #[arg(long)]
    pub max_depth: Option<u32>,
    /// Stop after this many seconds.
    #[arg(long, value_parser = limits::soak_seconds_flag)]
    pub time: Option<f64>,
    /// When a bound stops the search without a violation, walk the space at random for this
    /// many seconds more (0: no walks), keeping the shortest counterexample the walks find.
    /// A violation a walk finds is real, but not known to be a shortest one.
    #[arg(long, default_value_t = 10.0, value_parser = limits::run_seconds_flag)]
    pub walk_time: f64,
    /// Steps one walk takes at most.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub walk_len: u32,
    /// Walks at most, within --walk-time: with it the walks, and what they find, are the
    /// same on any machine fast enough to make them in the time.
    #[arg(long)]
    pub max_walks: Option<u64>,
    /// Seed of the walks.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
    /// Where a counterexample's run folder goes.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// No output but the outcome's one line (or JSON) and errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Check a mutant (see `synod mutants --list`) instead of the correct protocol.
    #[arg(long)]
    pub bug: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct SoakArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub nemesis: NemesisArgs,
    /// Number of runs.
    #[arg(long, required_unless_present = "time")]
    pub runs: Option<u64>,
    /// Seconds for the whole soak (runs start until this is spent).
    #[arg(long, value_parser = limits::soak_seconds_flag)]
    pub time: Option<f64>,
    /// Seconds of workload in each run.
    #[arg(long, default_value_t = 15.0, value_parser = limits::run_seconds_flag)]
    pub time_per_run: f64,
    /// Seed of the soak: every run's faults, intensities and seed are drawn from it.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Go on after a safety violation instead of stopping at the first.
    #[arg(long)]
    pub keep_going: bool,
    /// Which runs keep their history: `default` (every failing run and the last 3 passing
    /// runs; older passing runs keep meta.json, report.json and schedule.jsonl), `all`, or
    /// `last:N` (the last N passing runs).
    #[arg(long, value_name = "POLICY", default_value = "default", value_parser = crate::soak::keep::keep_flag)]
    pub keep: crate::soak::keep::Keep,
    #[command(flatten)]
    pub shard: ShardArgs,
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Shard folders: soak folders, or folders with soak folders up to two levels below
    /// (e.g. each pod's runs dir, copied back).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where the merge's folder (campaign-<id>/soak.json) goes.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// The folder of runs, or a soak folder (a merge's too): the runs its soak.json lists.
    #[arg(default_value = "runs")]
    pub runs_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Print the figures as JSON (they are always written to bench.json).
    #[arg(long)]
    pub json: bool,
    /// Seconds of workload in each measured run.
    #[arg(long, default_value_t = 5.0, value_parser = limits::run_seconds_flag)]
    pub time: f64,
    /// Where the bench's folder (its runs and bench.json) goes.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct ScenarioArgs {
    #[command(subcommand)]
    pub command: ScenarioCommand,
}

#[derive(Subcommand, Debug)]
pub enum ScenarioCommand {
    /// The scenarios, one a line.
    List,
    /// Run one; exit 0 when its expected outcome happened, 1 when not.
    Run {
        name: String,
        /// Where the scenario's run folders go.
        #[arg(long, default_value = "runs")]
        runs_dir: PathBuf,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A run folder, `latest`, or a run id under --runs-dir.
    pub run: PathBuf,
    /// Where run ids are looked up.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Run folders, run ids, `latest`, or soak folders.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Where run ids are looked up.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// A run folder, `latest`, or a run id under --runs-dir.
    pub run: PathBuf,
    /// Draw this instance's messages as a text diagram (one column per node).
    #[arg(long, conflicts_with = "events")]
    pub instance: Option<u64>,
    /// Print the raw events (JSON lines) that pass the filters.
    #[arg(long)]
    pub events: bool,
    /// Only from this many seconds after the run started.
    #[arg(long)]
    pub from: Option<f64>,
    /// Only up to this many seconds after the run started.
    #[arg(long)]
    pub to: Option<f64>,
    /// Only these nodes (e.g. `1,2`, `n1-n3`).
    #[arg(long)]
    pub nodes: Option<String>,
    /// Where run ids are looked up.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// A run folder, `latest`, a run id under --runs-dir, or a history file (.jsonl or .jsonl.zst).
    pub run: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Where run ids are looked up.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct MutantsArgs {
    /// Print one mutant name a line, and nothing else.
    #[arg(long)]
    pub list: bool,
    /// Print each mutant with what it breaks.
    #[arg(long)]
    pub describe: bool,
    /// Hunt only these mutants (comma list; default: all).
    #[arg(long)]
    pub only: Option<String>,
    /// Seconds each mutant is hunted, at most (no run starts after it is spent).
    #[arg(long, default_value_t = 120.0, value_parser = limits::soak_seconds_flag)]
    pub budget_s: f64,
    /// Seconds of workload in each run (short runs: more start-ups, more swarm draws); default
    /// 3, or 1 simulated second with --sim (a simulated start-up costs nothing: more draws).
    #[arg(long, value_parser = limits::run_seconds_flag)]
    pub time_per_run: Option<f64>,
    /// Seed of every hunt (each mutant's soak starts from it).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Which runs of each soak keep their history: `default` (every failing run and the last
    /// 3 passing runs), `all`, `failing`, or `last:N` (see `synod soak --help`). With --sim
    /// the default is `failing` (a simulated run's replay writes its history again).
    #[arg(long, value_name = "POLICY", value_parser = crate::soak::keep::keep_flag)]
    pub keep: Option<crate::soak::keep::Keep>,
    /// Hunt with simulated runs (`synod sim`): the built-in node in this process on a simulated
    /// clock, net and disk; power losses need no lazy filesystem. --time-per-run is simulated.
    #[arg(long)]
    pub sim: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub nemesis: NemesisArgs,
}

/// The flags of the subcommand that were given on the command line (not defaults).
pub fn explicit_flags(matches: &clap::ArgMatches) -> Vec<String> {
    let Some((name, sub)) = matches.subcommand() else { return Vec::new() };
    let command = Cli::command();
    let Some(definition) = command.find_subcommand(name) else { return Vec::new() };
    definition
        .get_arguments()
        .map(|a| a.get_id().as_str())
        .filter(|id| sub.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
        .map(str::to_string)
        .collect()
}
