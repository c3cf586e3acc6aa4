//! The command line (clap). `main.rs` turns it into a `RunConfig` and calls the commands.

use crate::run::config::Trace;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

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
    /// Check a recorded run (a run folder, `latest`, or a history.jsonl file).
    Check(CheckArgs),
    /// List the injectable bugs (mutants) of the built-in node.
    Mutants(MutantsArgs),
    /// Run as a node (what the controller starts; configured by SYNOD_* variables).
    #[command(hide = true)]
    Node,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
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
    /// Seconds of workload before the final phase.
    #[arg(long, default_value_t = 30.0)]
    pub time: f64,
    /// Stop after starting this many instances (the run ends early once all are done).
    #[arg(long)]
    pub instances: Option<u64>,
    /// Instances in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub concurrency: u64,
    /// Distinct proposers that propose each instance at nearly the same time.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub contention: u64,
    /// An op with no answer after this long ends `info`.
    #[arg(long, default_value_t = 2_000)]
    pub op_timeout_ms: u64,
    /// Seconds the final phase waits, at most, for every instance to be learned everywhere.
    #[arg(long, default_value_t = 10.0)]
    pub final_s: f64,
    /// Seed of every random choice (default: random; always recorded).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where run folders go.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// `all` records every message; `ops` leaves message events out (very long runs).
    #[arg(long, value_enum, default_value_t = Trace::All)]
    pub trace: Trace,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Faults to inject (comma list). Only `none` exists yet; `--loss` and `--delay-ms`
    /// apply with any nemesis.
    #[arg(long, default_value = "none")]
    pub nemesis: String,
    /// Probability that the net loses a message (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Mean message delay in milliseconds (0: none); delays let messages overtake each other.
    #[arg(long, default_value_t = 0.0)]
    pub delay_ms: f64,
    /// Distribution of the delay: constant, uniform (0 to twice the mean) or exponential.
    #[arg(long, value_enum, default_value_t = crate::net::faults::DelayDist::Exponential)]
    pub delay_dist: crate::net::faults::DelayDist,
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
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// A run folder, `latest`, a run id under --runs-dir, or a history.jsonl file.
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
    /// Print one mutant name a line.
    #[arg(long)]
    pub list: bool,
}
