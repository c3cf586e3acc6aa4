//! Everything a run was asked to do, as recorded in meta.json and the history's `run` line.
//! `synod run --replay` reads it back from meta.json.

use crate::nemesis::NemesisConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use synod_node::paxos::{NodeId, Tuning};

/// Which events the history records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Trace {
    /// Every message: send, recv, drop (the default).
    All,
    /// Client ops, learns, nemesis and process events only: for very long runs.
    Ops,
}

/// Where the run's nemesis schedule came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum ScheduleSource {
    /// Drawn from the seed and `nemesis` (the default).
    Generated,
    /// `--schedule FILE`.
    File { path: PathBuf },
    /// `--replay RUN`: the nemesis actions recorded in that run's history.
    Replay { run: PathBuf },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    pub nodes: u32,
    pub acceptors: Vec<NodeId>,
    pub proposers: Vec<NodeId>,
    pub learners: Vec<NodeId>,
    pub node_cmd: Option<String>,
    pub time_s: f64,
    pub instances: Option<u64>,
    pub concurrency: usize,
    pub contention: usize,
    pub op_timeout_ms: u64,
    pub final_s: f64,
    pub seed: u64,
    pub runs_dir: PathBuf,
    pub trace: Trace,
    #[serde(default)]
    pub quiet: bool,
    pub nemesis: NemesisConfig,
    pub schedule: ScheduleSource,
    /// The core's tunables and mutant, sent to every node in `init.config`.
    pub tuning: Tuning,
    /// Nodes that run the mutant in `tuning.bug` (the others run the correct protocol).
    pub bug_nodes: Vec<NodeId>,
}
