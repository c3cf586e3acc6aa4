//! The runner: what one run holds while it runs (the cluster, the net, the workload, the
//! nemesis, the history, the run's flags), and the small steps every phase shares
//! (recording a phase or an error, starting a node, its `init`, the progress line).
//!
//! The phases themselves are in their own files: start-up (startup.rs), the workload and the
//! final phase (phases.rs), the events of connections and processes (events.rs), the stop
//! (stop.rs), closing and checking the history (finish.rs).

use super::config::RunConfig;
use super::nodes::Nodes;
use super::power;
use crate::history::History;
use crate::nemesis::state::Nemesis;
use crate::nemesis::Schedule;
use crate::net::conn::Event;
use crate::net::faults::Faults;
use crate::net::Net;
use crate::progress::{Progress, Snapshot};
use crate::workload::{Workload, WorkloadConfig};
use anyhow::Result;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use synod_checker::history as schema;
use synod_node::paxos::NodeId;
use synod_node::protocol::{Body, Init};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Which phase the run is in, for the progress line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Phase {
    Workload,
    Final,
}

pub(super) struct Runner<'p> {
    pub(super) cfg: RunConfig,
    pub(super) history: History,
    pub(super) net: Net,
    /// The nodes: real processes, or simulated ones.
    pub(super) nodes: Nodes,
    pub(super) workload: Workload,
    pub(super) events: mpsc::Receiver<Event>,
    pub(super) progress: &'p mut Progress,
    /// The nemesis's state: the schedule still to come, the faults in force, crash points.
    pub(super) nemesis: Nemesis,
    pub(super) workload_cut: bool,
    pub(super) interrupted: bool,
    /// The nodes are being stopped: replies are still recorded, nothing more is invoked.
    pub(super) stopping: bool,
    pub(super) final_errors: Vec<String>,
    /// The nodes that did not come up when the run was aborted at start-up.
    pub(super) startup_failed: Vec<NodeId>,
    /// The nodes' lazy filesystems (none unless the schedule cuts power).
    pub(super) disks: power::Disks,
    /// Nodes whose power was cut, until their exit is seen: then their unsynced writes are
    /// lost (keeping a torn prefix of the last one if `true`).
    pub(super) power_cut: BTreeMap<NodeId, bool>,
    /// The run folder, whose disk is watched.
    pub(super) run_path: PathBuf,
    /// When the free space is looked at next.
    pub(super) next_disk_check: Instant,
    /// Why the run was stopped for its disk (a full disk, a failed history write).
    pub(super) disk_full: Option<String>,
    /// The simulated run's waits so far (it yields to the runtime now and then).
    pub(super) sim_turns: u64,
}

impl<'p> Runner<'p> {
    pub(super) fn new(
        cfg: RunConfig,
        schedule: Schedule,
        history: History,
        nodes: Nodes,
        events: mpsc::Receiver<Event>,
        progress: &'p mut Progress,
    ) -> Runner<'p> {
        let workload = Workload::new(
            WorkloadConfig {
                concurrency: cfg.concurrency,
                contention: cfg.contention,
                op_timeout_us: cfg.op_timeout_ms * 1000,
                max_instances: cfg.instances,
                revisit: cfg.revisit,
                proposers: cfg.proposers.clone(),
                learners: cfg.learners.clone(),
            },
            cfg.seed,
        );
        let net = Net::new(cfg.nodes, Faults::default(), cfg.seed);
        let nemesis = Nemesis::new(cfg.nodes, schedule, cfg.seed);
        Runner {
            cfg,
            history,
            net,
            nodes,
            workload,
            events,
            progress,
            nemesis,
            workload_cut: false,
            interrupted: false,
            stopping: false,
            final_errors: Vec::new(),
            startup_failed: Vec::new(),
            disks: power::Disks::default(),
            power_cut: BTreeMap::new(),
            run_path: PathBuf::new(),
            next_disk_check: Instant::now(),
            disk_full: None,
            sim_turns: 0,
        }
    }

    /// Starts `node`'s process and records it `up`.
    pub(super) fn start_node(&mut self, node: NodeId) -> Result<()> {
        let pid = self.nodes.spawn(node)?;
        self.history.record(&schema::Event::Process(schema::Process {
            t: self.history.now_us(),
            event: Cow::Borrowed("up"),
            node: u64::from(node),
            pid: Some(u64::from(pid)),
            status: None,
        }));
        Ok(())
    }

    /// The `init` a node gets on connecting: membership, roles, its tuning (the mutant only
    /// on the nodes that carry it).
    pub(super) fn init_for(&self, node: NodeId) -> Body {
        let mut config = self.cfg.tuning.clone();
        if !self.cfg.bug_nodes.contains(&node) {
            config.bug = None;
        }
        config.seed = self.cfg.seed;
        Body::Init(Box::new(Init {
            node,
            nodes: (1..=self.cfg.nodes).collect(),
            acceptors: self.cfg.acceptors.clone(),
            proposers: self.cfg.proposers.clone(),
            learners: self.cfg.learners.clone(),
            config,
        }))
    }

    /// The instant at which the history clock reads `us`.
    pub(super) fn history_instant(&self, us: u64) -> Instant {
        let now_us = self.history.now_us();
        Instant::now() + Duration::from_micros(us.saturating_sub(now_us))
    }

    /// Records a `phase` event; returns its `t`.
    pub(super) fn record_phase(&self, phase: &str) -> u64 {
        let t = self.history.now_us();
        self.history.record(&schema::Event::Phase(schema::Phase { t, phase: Cow::Borrowed(phase) }));
        t
    }

    /// Records an `error` event about `node` (or about no node in particular).
    pub(super) fn record_error(&self, node: Option<NodeId>, error: &str) {
        self.history.record(&schema::Event::Error(error_event(self.history.now_us(), node, error)));
    }

    /// Draws the progress line; `start_us` is when the workload began (history clock, which
    /// in a simulation is the simulated time).
    pub(super) fn report_progress(&mut self, phase: Phase, start_us: u64) {
        if !self.progress.wants_update() {
            return;
        }
        let elapsed_s = self.history.now_us().saturating_sub(start_us) as f64 / 1e6;
        let snapshot = Snapshot {
            phase: match phase {
                Phase::Workload => "workload",
                Phase::Final => "final phase",
            },
            elapsed_s,
            total_s: self.cfg.time_s + self.cfg.final_s,
            decisions: self.workload.stats.learned_by_all,
            in_flight: self.workload.in_flight(),
            dropped: self.net.stats.dropped_total(),
            nemesis: &self.active_faults(),
        };
        self.progress.update(&snapshot);
    }
}

/// An `error` event with only its message and the node it is about (the other fields are
/// for the call sites that have them).
pub(super) fn error_event(t: u64, node: Option<NodeId>, error: &str) -> schema::ErrorEvent<'_> {
    schema::ErrorEvent {
        t,
        error: Cow::Borrowed(error),
        frame: None,
        node: node.map(u64::from),
        op: None,
        peer: None,
    }
}
