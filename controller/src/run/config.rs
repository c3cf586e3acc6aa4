//! Everything a run was asked to do, as recorded in meta.json and the history's `run` line.

use serde::Serialize;
use std::path::PathBuf;
use synod_node::paxos::{NodeId, Tuning};

/// Which events the history records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Trace {
    /// Every message: send, recv, drop (the default).
    All,
    /// Client ops, learns, nemesis and process events only: for very long runs.
    Ops,
}

#[derive(Debug, Clone, Serialize)]
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
    pub quiet: bool,
    pub nemesis: Vec<String>,
    pub loss: f64,
    pub delay_ms: f64,
    pub delay_dist: crate::net::faults::DelayDist,
    /// The core's tunables and mutant, sent to every node in `init.config`.
    pub tuning: Tuning,
    /// Nodes that run the mutant in `tuning.bug` (the others run the correct protocol).
    pub bug_nodes: Vec<NodeId>,
}
