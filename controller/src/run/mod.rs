//! One run: start the cluster, drive the workload through the net, then the final phase
//! (every fault healed, every node up, time to converge), then stop the nodes, close the
//! history and check it.
//!
//! Everything happens on one thread (a current-thread runtime): the router, the workload and
//! the process management share state without locks, every event gets its time from one
//! clock, and node spawns happen on a thread that lives as long as the run (see cluster.rs).
//!
//! A run whose nodes do not all come up (a node exits during start-up, or has not connected
//! after 5 s) never really ran: it is aborted, not judged. Its history still gets an `end`
//! line, with `aborted` and a reason, so that no reader takes it for a short valid run, and
//! the caller gets an error naming each failed node's log (exit 2; a soak stops there).
//!
//! A disk that fills up mid-run aborts it the same way (exit 2), with a message about the
//! disk rather than about what failed on it: the run loop looks every turn whether the history
//! writer failed, and every DISK_CHECK_MS whether the run folder's disk is full (nodes failing
//! their fsync would otherwise just exit). The `end` line and report.json may not fit any
//! more: the history then reads as truncated, which is the truth, and report.json is skipped.

pub mod config;
mod nemesis;
mod once;
mod power;
pub mod shutdown;

pub use once::{run_once, run_once_embedded};

use crate::cluster::{Cluster, NodeCommand, ProcState};
use crate::history::History;
use crate::nemesis::{Action, FaultKind, Schedule, Timed, Trigger};
use crate::net::conn::{accept_loop, Event};
use crate::net::faults::Faults;
use crate::net::Net;
use crate::progress::{Progress, Snapshot};
use crate::rundir::RunDir;
use crate::workload::{Invoke, Outcome, Workload, WorkloadConfig};
use anyhow::{Context, Result};
use config::{RunConfig, Trace};
use nix::sys::signal::Signal;
use serde_json::json;
use shutdown::Shutdown;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;
use synod_checker::history as schema;
use synod_checker::Report;
use synod_node::paxos::rng::Rng;
use synod_node::paxos::NodeId;
use synod_node::protocol::{Body, Envelope};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Events queued from connections and process waiters, at most.
const EVENT_QUEUE: usize = 65_536;
/// How long nodes have to connect at start-up (as long as the net gives a connection to say
/// hello): a node that is not there by then is not coming, and a user waits no longer.
const CONNECT_TIMEOUT_S: u64 = 5;
/// How long nodes have to exit after SIGTERM before SIGKILL.
const STOP_GRACE_MS: u64 = 2_000;
/// Start-up lasts this long after the last node got its `init`: a node that exits within it
/// (one that rejects its `init`, say) did not start, and the run is aborted.
pub const STARTUP_SETTLE_MS: u64 = 300;
const TICK_MS: u64 = 5;
/// In the final phase, instances not yet learned everywhere are invoked again this often.
const CHASE_EVERY_MS: u64 = 250;
/// How often the run loop looks at the free space of the run folder's disk.
const DISK_CHECK_MS: u64 = 250;

pub struct RunOutcome {
    pub run_dir: PathBuf,
    pub run_id: String,
    pub report: Report,
    /// An interrupt ended the workload early (the final phase still ran).
    pub workload_cut: bool,
    /// An interrupt cut the final phase short (or came before the workload began).
    pub interrupted: bool,
    /// What went wrong in the final phase (a node that could not be resumed or restarted).
    pub final_errors: Vec<String>,
    /// How many times each fault kind was started.
    pub exercised: BTreeMap<FaultKind, u64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Workload,
    Final,
}

/// Runs one recorded run with the given nemesis schedule. The first interrupt on `shutdown`
/// ends the workload, after which the run still heals, restarts, converges, stops the nodes,
/// closes the history and checks it; a second one cuts the final phase short.
pub async fn run(
    cfg: RunConfig,
    schedule: Schedule,
    argv: &[String],
    progress: &mut Progress,
    shutdown: Shutdown,
) -> Result<RunOutcome> {
    let dir = RunDir::create(&cfg.runs_dir)?;
    let Opened { history, listener, command, disks } = open(&dir, &cfg, &schedule, argv).await?;
    let addr = listener.local_addr()?.to_string();
    let token = random_token();
    let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
    let accept = tokio::spawn(accept_loop(listener, token.clone(), cfg.nodes, events_tx.clone()));
    let node_dirs: Vec<PathBuf> = (1..=cfg.nodes).map(|n| dir.node_dir(n)).collect();
    let data_dirs = (1..=cfg.nodes).map(|n| disks.data_dir(n).unwrap_or_else(|| dir.node_dir(n))).collect();
    let cluster = Cluster::new(command, addr, token, node_dirs, data_dirs, events_tx);
    history.record(&run_header(&dir.id, &cfg));
    progress.start_run(cfg.time_s + cfg.final_s);
    let mut r = Runner::new(cfg, schedule, history, cluster, events, progress);
    r.disks = disks;
    r.run_path = dir.path.clone();
    let result = r.drive(shutdown).await;
    // Whatever happened, the nodes stop, the history is closed and checked.
    r.stop_nodes().await;
    accept.abort();
    r.progress.finish_run();
    r.finish(&dir, result)
}

/// The history's first line: membership, roles, the mutant, the whole config.
fn run_header<'a>(run_id: &'a str, cfg: &RunConfig) -> schema::Event<'a> {
    let ids = |nodes: &[NodeId]| nodes.iter().map(|&n| u64::from(n)).collect::<Vec<_>>();
    schema::Event::Run(schema::Run {
        t: 0,
        run_id: Some(Cow::Borrowed(run_id)),
        seed: Some(cfg.seed.into()),
        nodes: (1..=u64::from(cfg.nodes)).collect(),
        acceptors: Some(ids(&cfg.acceptors)),
        proposers: Some(ids(&cfg.proposers)),
        learners: Some(ids(&cfg.learners)),
        bug: Some(cfg.tuning.bug.map(|b| Cow::Borrowed(b.name()))),
        bug_nodes: Some(ids(&cfg.bug_nodes)),
        config: Some(serde_json::to_value(cfg).expect("the config serializes")),
    })
}

/// What a run needs before its history is opened.
struct Opened {
    history: History,
    listener: TcpListener,
    command: NodeCommand,
    /// The nodes' lazy filesystems, if the schedule cuts power.
    disks: power::Disks,
}

/// Writes meta.json and the schedule, listens, finds the node command, and only then opens
/// the history and points `runs/latest` at the run: a step that fails leaves no empty
/// history behind for `latest` to name (a run's history always ends with an `end`).
async fn open(dir: &RunDir, cfg: &RunConfig, schedule: &Schedule, argv: &[String]) -> Result<Opened> {
    write_meta(dir, cfg, argv)?;
    let schedule_path = dir.path.join(crate::nemesis::file::SCHEDULE_FILE);
    std::fs::write(&schedule_path, crate::nemesis::file::render_schedule(schedule))
        .with_context(|| format!("cannot write {}", schedule_path.display()))?;
    let listener = TcpListener::bind("127.0.0.1:0").await.context("cannot listen on loopback")?;
    let command = match &cfg.node_cmd {
        Some(line) => NodeCommand::Shell(line.clone()),
        None => NodeCommand::Builtin(crate::cluster::builtin_program()?),
    };
    let disks = if schedule.cuts_power() || cfg.lazy_fs {
        power::Disks::mount(dir, cfg.nodes)?
    } else {
        power::Disks::default()
    };
    let history = History::create(&dir.path, cfg.history_format, cfg.trace == Trace::All)?;
    dir.mark_latest()?;
    Ok(Opened { history, listener, command, disks })
}

struct Runner<'p> {
    cfg: RunConfig,
    history: History,
    net: Net,
    cluster: Cluster,
    workload: Workload,
    events: mpsc::Receiver<Event>,
    progress: &'p mut Progress,
    invokes: Vec<Invoke>,
    /// Nemesis actions still to come, timed from the workload's start.
    schedule: VecDeque<Timed>,
    /// Actions waiting for a message, with how many matching messages were seen.
    triggers: Vec<(Trigger, u32)>,
    /// Actions to take when the message with this id is delivered.
    on_delivery: HashMap<u64, Action>,
    workload_start_us: u64,
    /// Nodes to start again as soon as the exit of their killed process is seen.
    restart_pending: BTreeSet<NodeId>,
    workload_cut: bool,
    interrupted: bool,
    final_started: bool,
    /// The nodes are being stopped: replies are still recorded, nothing more is invoked.
    stopping: bool,
    final_errors: Vec<String>,
    exercised: BTreeMap<FaultKind, u64>,
    /// The nodes that did not come up when the run was aborted at start-up.
    startup_failed: Vec<NodeId>,
    /// The crash point in force: (message type, probability, down time in ms).
    crash_point: Option<(String, f64, f64)>,
    /// The node a crash point killed, until its restart: what it still sent is discarded.
    crash_victim: Option<NodeId>,
    /// The nemesis's own random choices at run time (crash points).
    rng: Rng,
    /// The nodes' lazy filesystems (none unless the schedule cuts power).
    disks: power::Disks,
    /// Nodes whose power was cut, until their exit is seen: then their unsynced writes are
    /// lost (keeping a torn prefix of the last one if `true`).
    power_cut: BTreeMap<NodeId, bool>,
    /// The run folder, whose disk is watched.
    run_path: PathBuf,
    /// When the free space is looked at next.
    next_disk_check: Instant,
    /// Why the run was stopped for its disk (a full disk, a failed history write).
    disk_full: Option<String>,
}

impl<'p> Runner<'p> {
    fn new(
        cfg: RunConfig,
        schedule: Schedule,
        history: History,
        cluster: Cluster,
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
        let (net, rng) =
            (Net::new(cfg.nodes, Faults::default(), cfg.seed), Rng::new(cfg.seed ^ 0x6372_6173_6870_7421));
        Runner {
            cfg,
            history,
            net,
            cluster,
            workload,
            events,
            progress,
            invokes: Vec::new(),
            schedule: schedule.timed.into(),
            triggers: schedule.triggers.into_iter().map(|t| (t, 0)).collect(),
            on_delivery: HashMap::new(),
            workload_start_us: 0,
            restart_pending: BTreeSet::new(),
            workload_cut: false,
            interrupted: false,
            final_started: false,
            stopping: false,
            final_errors: Vec::new(),
            exercised: BTreeMap::new(),
            startup_failed: Vec::new(),
            crash_point: None,
            crash_victim: None,
            rng,
            disks: power::Disks::default(),
            power_cut: BTreeMap::new(),
            run_path: PathBuf::new(),
            next_disk_check: Instant::now(),
            disk_full: None,
        }
    }

    /// Ends the history (an aborted run's `end` says so and why), checks it and writes
    /// report.json. A run that never really ran is recorded as such, and to the caller it
    /// is an error naming each failed node's log (exit 2).
    fn finish(mut self, dir: &RunDir, result: Result<()>) -> Result<RunOutcome> {
        // A full disk is what the user must hear about, not the node exits or the failed
        // write it caused.
        let failed = result.is_err() || !self.final_errors.is_empty();
        let disk = self.disk_full.clone().or_else(|| self.history.write_failure()).or_else(|| {
            if failed {
                crate::disk::full(&dir.path)
            } else {
                None
            }
        });
        let result = match (&disk, result) {
            (Some(d), Err(e)) if format!("{e:#}") != *d => Err(anyhow::anyhow!("{d}\n(besides: {e:#})")),
            (Some(d), _) => Err(anyhow::anyhow!("{d}")),
            (None, result) => result,
        };
        let reason = result.as_ref().err().map(|e| format!("{e:#}").replace('\n', " "));
        self.history.record(&schema::Event::End(schema::End {
            t: self.history.now_us(),
            aborted: reason.is_some(),
            interrupted: self.interrupted,
            reason: reason.map(Cow::Owned),
            unanswered: Some(self.workload.unanswered() as u64),
            unlearned: Some(self.workload.unlearned() as u64),
            workload_cut: self.workload_cut,
        }));
        if disk.is_some() {
            // The `end` line most likely did not fit: the history reads as truncated. Whether
            // report.json still fits is tried, and the run is reported aborted either way.
            let _ = self.history.close();
            let wrote = synod_checker::check_path(&dir.path)
                .map_err(anyhow::Error::from)
                .and_then(|report| Ok(synod_checker::write_report_json(&dir.path, &report)?));
            if let Err(e) = wrote {
                tracing::debug!("no report.json for a run on a full disk: {e:#}");
            }
            let e = result.expect_err("a run stopped for its disk is an error");
            anyhow::bail!("run aborted: {e:#}\nrun: {}", dir.path.display());
        }
        self.history.close()?;
        let report = synod_checker::check_path(&dir.path).context("cannot check the history")?;
        synod_checker::write_report_json(&dir.path, &report).context("cannot write report.json")?;
        if let Err(e) = result {
            let logs = self.startup_failed.iter().map(|&n| log_line(dir, n)).collect::<Vec<_>>();
            let logs = if logs.is_empty() { String::new() } else { format!("\n{}", logs.join("\n")) };
            anyhow::bail!("run aborted: {e:#}{logs}\nrun: {}", dir.path.display());
        }
        Ok(RunOutcome {
            run_dir: dir.path.clone(),
            run_id: dir.id.clone(),
            report,
            workload_cut: self.workload_cut,
            interrupted: self.interrupted,
            final_errors: self.final_errors,
            exercised: self.exercised,
        })
    }

    async fn drive(&mut self, mut shutdown: Shutdown) -> Result<()> {
        if !self.start_up(&mut shutdown).await? {
            return Ok(());
        }
        let start = Instant::now();
        self.workload_start_us = self.record_phase("workload");
        let workload_end = start + Duration::from_secs_f64(self.cfg.time_s);
        let mut phase = Phase::Workload;
        let mut final_end = None;
        let mut next_chase = start;
        let mut tick = tokio::time::interval(Duration::from_millis(TICK_MS));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let due = self.next_due(phase);
            let interrupts = if phase == Phase::Workload { 1 } else { 2 };
            tokio::select! {
                ev = self.events.recv() => self.handle_queued(ev.context("event channel closed")?),
                _ = sleep_until(due) => {
                    self.net.deliver_due(&self.history);
                    self.after_deliveries();
                }
                _ = tick.tick() => {}
                _ = shutdown.reached(interrupts) => {
                    if phase == Phase::Workload {
                        tracing::warn!("interrupted: healing and converging (interrupt again to cut this short)");
                        self.workload_cut = true;
                    } else {
                        tracing::warn!("interrupted again: cutting the final phase short");
                        self.interrupted = true;
                        return Ok(());
                    }
                }
            }
            let now = Instant::now();
            let now_us = self.history.now_us();
            let mut invokes = std::mem::take(&mut self.invokes);
            self.expire(now_us, &mut invokes);
            match phase {
                Phase::Workload => {
                    let done = self.workload_cut
                        || now >= workload_end
                        || (self.workload.exhausted() && self.workload.in_flight() == 0);
                    if done {
                        phase = Phase::Final;
                        final_end = Some(self.begin_final(now));
                    } else {
                        self.apply_due(now_us);
                        self.workload.fill(now_us, &mut invokes);
                    }
                }
                Phase::Final => {
                    let converged = self.workload.unlearned() == 0 && self.workload.unanswered() == 0;
                    if converged || final_end.is_some_and(|end| now >= end) {
                        self.invokes = invokes;
                        break;
                    }
                    if now >= next_chase {
                        next_chase = now + Duration::from_millis(CHASE_EVERY_MS);
                        self.workload.chase(now_us, &mut invokes);
                    }
                }
            }
            self.send_invokes(&mut invokes);
            self.invokes = invokes;
            self.report_progress(phase, start);
            self.history.flush_batch();
            if let Some(why) = self.disk_trouble() {
                self.disk_full = Some(why.clone());
                anyhow::bail!(why);
            }
        }
        self.check_final_state();
        Ok(())
    }

    /// Why the run cannot go on for its disk: the history writer failed, or (looked at every
    /// DISK_CHECK_MS) the run folder's disk is full.
    fn disk_trouble(&mut self) -> Option<String> {
        if let Some(failure) = self.history.write_failure() {
            return Some(failure);
        }
        let now = Instant::now();
        if now < self.next_disk_check {
            return None;
        }
        self.next_disk_check = now + Duration::from_millis(DISK_CHECK_MS);
        crate::disk::full(&self.run_path)
    }

    /// Enters the final phase: every fault healed. Returns when it ends at the latest.
    fn begin_final(&mut self, now: Instant) -> Instant {
        self.record_phase("final");
        self.heal_all();
        now + Duration::from_secs_f64(self.cfg.final_s)
    }

    /// When the next message is due, or (in the workload) the next nemesis action.
    fn next_due(&self, phase: Phase) -> Option<Instant> {
        let next_action = match phase {
            Phase::Workload => self.schedule.front().map(|a| a.at_us + self.workload_start_us),
            Phase::Final => None,
        };
        let due = [self.net.next_due_us(), next_action].into_iter().flatten().min();
        due.map(|us| self.history_instant(us))
    }

    /// Handles `ev`, then what else is queued (up to a bound) before the next timer check.
    fn handle_queued(&mut self, ev: Event) {
        self.handle(ev);
        for _ in 0..1024 {
            match self.events.try_recv() {
                Ok(ev) => self.handle(ev),
                Err(_) => break,
            }
        }
    }

    /// Ops past their deadline end `info` (timeout); the workload may invoke again.
    fn expire(&mut self, now_us: u64, invokes: &mut Vec<Invoke>) {
        for (op, instance, node) in self.workload.expire(now_us, invokes) {
            self.history.record(&schema::Event::Info(op_ended(
                self.history.now_us(),
                op,
                node,
                instance,
                "timeout",
            )));
        }
    }

    /// Starts every node and waits until all have connected and STARTUP_SETTLE_MS have
    /// passed since the last `init`: a node that rejects its `init` and exits did not start
    /// either. Gives up (an error: the run is aborted) at once when a node exits within
    /// start-up, since nothing restarts it then, or after CONNECT_TIMEOUT_S without every
    /// node connected. Returns false if interrupted.
    async fn start_up(&mut self, shutdown: &mut Shutdown) -> Result<bool> {
        for node in 1..=self.cfg.nodes {
            if let Err(e) = self.start_node(node) {
                self.startup_failed = vec![node];
                return Err(e);
            }
        }
        let connect_by = Instant::now() + Duration::from_secs(CONNECT_TIMEOUT_S);
        let mut settled_at = None;
        let mut exits: Vec<(NodeId, String)> = Vec::new();
        loop {
            tokio::select! {
                ev = self.events.recv() => {
                    let ev = ev.context("event channel closed")?;
                    if let Event::Exited { node, status, .. } = &ev {
                        exits.push((*node, status.clone()));
                    }
                    self.handle(ev);
                    self.history.flush_batch();
                }
                _ = tokio::time::sleep_until(settled_at.unwrap_or(connect_by)) => {
                    if settled_at.is_some() {
                        return Ok(true);
                    }
                    self.startup_failed = self.unconnected();
                    let names: Vec<String> = self.startup_failed.iter().map(|n| format!("n{n}")).collect();
                    anyhow::bail!(
                        "only {} of {} nodes connected within {CONNECT_TIMEOUT_S} s ({} did not)",
                        self.net.connected(), self.cfg.nodes, names.join(", ")
                    );
                }
                _ = shutdown.reached(1) => {
                    self.interrupted = true;
                    return Ok(false);
                }
            }
            if !exits.is_empty() {
                return Err(self.startup_exits(exits).await);
            }
            if settled_at.is_none() && self.net.connected() == self.cfg.nodes as usize {
                // Every node has its `init` now (it is sent on connecting).
                settled_at = Some(Instant::now() + Duration::from_millis(STARTUP_SETTLE_MS));
            }
        }
    }

    /// The error for nodes that exited during start-up: `exits`, and the other nodes' exits
    /// already queued (after a moment), so that the message names them all.
    async fn startup_exits(&mut self, mut exits: Vec<(NodeId, String)>) -> anyhow::Error {
        tokio::time::sleep(Duration::from_millis(50)).await;
        while let Ok(ev) = self.events.try_recv() {
            if let Event::Exited { node, status, .. } = &ev {
                exits.push((*node, status.clone()));
            }
            self.handle(ev);
        }
        exits.sort();
        self.startup_failed = exits.iter().map(|e| e.0).collect();
        let what: Vec<String> = exits.iter().map(|(n, status)| format!("n{n} {status}")).collect();
        anyhow::anyhow!(
            "{} of {} nodes exited during start-up ({})",
            exits.len(),
            self.cfg.nodes,
            what.join(", ")
        )
    }

    /// The nodes with no connection to the net, in order.
    fn unconnected(&self) -> Vec<NodeId> {
        (1..=self.cfg.nodes).filter(|&n| !self.net.is_connected(n)).collect()
    }

    fn history_instant(&self, us: u64) -> Instant {
        let now_us = self.history.now_us();
        Instant::now() + Duration::from_micros(us.saturating_sub(now_us))
    }

    fn start_node(&mut self, node: NodeId) -> Result<()> {
        let pid = self.cluster.spawn(node)?;
        self.history.record(&schema::Event::Process(schema::Process {
            t: self.history.now_us(),
            event: Cow::Borrowed("up"),
            node: u64::from(node),
            pid: Some(u64::from(pid)),
            status: None,
        }));
        Ok(())
    }

    fn send_invokes(&mut self, invokes: &mut Vec<Invoke>) {
        if self.stopping {
            // A reply during the stop may make the workload try again: too late for that.
            invokes.clear();
            return;
        }
        for inv in invokes.drain(..) {
            self.history.record(&schema::Event::Invoke(schema::Invoke {
                t: self.history.now_us(),
                instance: inv.instance,
                node: Some(u64::from(inv.node)),
                op: inv.op,
                revisit: inv.revisit,
                value: Cow::Borrowed(&inv.value),
            }));
            let body = Body::Propose { msg_id: inv.op, instance: inv.instance, value: inv.value };
            // A propose to a node that is down is lost; the op then times out as `info`.
            self.net.send_direct(inv.node, &Envelope { src: 0, dest: inv.node, body });
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Connected { node, conn, tx } => {
                self.net.connect(node, conn, tx);
                let init = self.init_for(node);
                self.net.send_direct(node, &Envelope { src: 0, dest: node, body: init });
                // Clients waiting for this node retry on it (after the init, on the same link).
                let mut invokes = std::mem::take(&mut self.invokes);
                self.workload.node_up(self.history.now_us(), node, &mut invokes);
                self.send_invokes(&mut invokes);
                self.invokes = invokes;
            }
            Event::Frame { node, env } => self.frame(node, env),
            Event::Malformed { node, frame, error } => {
                self.history.record(&schema::Event::Error(schema::ErrorEvent {
                    frame: Some(frame),
                    ..error_event(self.history.now_us(), Some(node), &error)
                }));
            }
            Event::Rejected { peer, reason } => {
                let error = format!("connection rejected: {reason}");
                self.history.record(&schema::Event::Error(schema::ErrorEvent {
                    peer: Some(Cow::Borrowed(&peer)),
                    ..error_event(self.history.now_us(), None, &error)
                }));
            }
            Event::Disconnected { node, conn } => self.net.disconnect(node, conn),
            Event::Exited { node, pid, status } => {
                self.cluster.exited(node, pid);
                let now_us = self.history.now_us();
                self.history.record(&schema::Event::Process(schema::Process {
                    t: now_us,
                    event: Cow::Borrowed("exit"),
                    node: u64::from(node),
                    pid: Some(u64::from(pid)),
                    status: Some(Cow::Borrowed(&status)),
                }));
                let mut invokes = std::mem::take(&mut self.invokes);
                for (op, instance) in self.workload.node_exited(now_us, node, &mut invokes) {
                    let t = self.history.now_us();
                    self.history.record(&schema::Event::Info(op_ended(t, op, node, instance, "crashed")));
                }
                self.send_invokes(&mut invokes);
                self.invokes = invokes;
                self.power_cut_exited(node);
                if self.cluster.state(node) == ProcState::Down && self.restart_pending.remove(&node) {
                    self.restart(node);
                }
            }
        }
    }

    fn init_for(&self, node: NodeId) -> Body {
        let mut config = self.cfg.tuning.clone();
        if !self.cfg.bug_nodes.contains(&node) {
            config.bug = None;
        }
        config.seed = self.cfg.seed;
        Body::Init {
            node,
            nodes: (1..=self.cfg.nodes).collect(),
            acceptors: self.cfg.acceptors.clone(),
            proposers: self.cfg.proposers.clone(),
            learners: self.cfg.learners.clone(),
            config,
        }
    }

    fn frame(&mut self, node: NodeId, env: Envelope) {
        if env.src != node {
            let error = format!("frame claims src {} on n{node}'s connection", env.src);
            self.record_error(Some(node), &error);
            return;
        }
        if self.crash_victim == Some(node)
            && matches!(self.cluster.state(node), ProcState::Dying | ProcState::Down)
        {
            // Sent after its crash point: as if it had died before writing it.
            self.history.record(&schema::Event::Discarded(schema::Discarded {
                t: self.history.now_us(),
                body_type: Cow::Borrowed(env.body.type_name()),
                node: u64::from(node),
            }));
            return;
        }
        if env.dest != 0 {
            if env.body.is_paxos() {
                self.route(env);
            } else {
                let error = format!("{} frame addressed to n{}", env.body.type_name(), env.dest);
                self.record_error(Some(node), &error);
            }
            return;
        }
        let now_us = self.history.now_us();
        let mut invokes = std::mem::take(&mut self.invokes);
        match env.body {
            Body::ProposeOk { in_reply_to, instance, value } => {
                let mut ok = self.ok_event(node, in_reply_to, instance, &value);
                let outcome = Outcome::Ok(value.clone());
                if self.workload.complete(now_us, in_reply_to, &outcome, &mut invokes).is_none() {
                    // After its op ended (or a second reply): recorded all the same.
                    self.workload.late(in_reply_to, Some(ok.instance));
                    ok.late = true;
                }
                self.history.record(&schema::Event::Ok(ok));
            }
            Body::Error { in_reply_to, code, text } => {
                // `gave_up`: some ballot may have been accepted, so the outcome is unknown.
                let outcome = match code.as_str() {
                    "gave_up" => Outcome::Info(code.clone()),
                    _ => Outcome::Fail(code.clone()),
                };
                let (instance, late) =
                    match self.workload.complete(now_us, in_reply_to, &outcome, &mut invokes) {
                        Some((instance, _)) => (Some(instance), false),
                        None => (self.workload.late(in_reply_to, None).map(|(instance, _)| instance), true),
                    };
                let failed = schema::Failed {
                    t: self.history.now_us(),
                    error: Some(Cow::Borrowed(&code)),
                    instance,
                    late,
                    node: Some(u64::from(node)),
                    op: in_reply_to,
                    text: Some(Cow::Borrowed(&text)),
                };
                self.history.record(&match outcome {
                    Outcome::Info(_) => schema::Event::Info(failed),
                    _ => schema::Event::Fail(failed),
                });
            }
            Body::Learned { instance, value } => {
                self.history.record(&schema::Event::Learn(schema::Learn {
                    t: self.history.now_us(),
                    instance,
                    node: u64::from(node),
                    value: Cow::Borrowed(&value),
                }));
                self.workload.learned(instance, node);
            }
            other => {
                let error = format!("unexpected {} frame to the controller", other.type_name());
                self.record_error(Some(node), &error);
            }
        }
        self.send_invokes(&mut invokes);
        self.invokes = invokes;
    }

    /// The `ok` for a `propose_ok` naming `reply_instance`. A reply answers the
    /// op's instance, whatever instance it names: else a node could answer an op with another
    /// instance's decision and the client would take its own instance for answered. A reply
    /// naming another instance is also recorded as an `error`, and its `ok` keeps the named
    /// one in `reply_instance`; its value is judged against the op's instance. A reply to an
    /// op the controller does not know (never invoked, or ended too long ago) keeps the
    /// instance it names and is marked `unknown_op`.
    fn ok_event<'v>(&mut self, node: NodeId, op: u64, reply_instance: u64, value: &'v str) -> schema::Ok<'v> {
        let known = self.workload.op_instance(op);
        let instance = match known {
            Some(instance) if instance != reply_instance => {
                let error =
                    format!("propose_ok for op {op} (instance {instance}) names instance {reply_instance}");
                self.history.record(&schema::Event::Error(schema::ErrorEvent {
                    op: Some(op),
                    ..error_event(self.history.now_us(), Some(node), &error)
                }));
                instance
            }
            _ => reply_instance,
        };
        schema::Ok {
            t: self.history.now_us(),
            instance,
            late: false,
            node: Some(u64::from(node)),
            op,
            reply_instance: (instance != reply_instance).then_some(reply_instance),
            unknown_op: known.is_none(),
            value: Cow::Borrowed(value),
        }
    }

    /// Records a `phase` event; returns its `t`.
    fn record_phase(&self, phase: &str) -> u64 {
        let t = self.history.now_us();
        self.history.record(&schema::Event::Phase(schema::Phase { t, phase: Cow::Borrowed(phase) }));
        t
    }

    /// Records an `error` event about `node` (or about no node in particular).
    fn record_error(&self, node: Option<NodeId>, error: &str) {
        self.history.record(&schema::Event::Error(error_event(self.history.now_us(), node, error)));
    }

    /// SIGCONT, SIGTERM, a grace period, then SIGKILL for whatever still runs.
    async fn stop_nodes(&mut self) {
        self.stopping = true;
        for node in self.cluster.up_nodes() {
            let _ = self.cluster.signal(node, Signal::SIGCONT);
            let _ = self.cluster.signal(node, Signal::SIGTERM);
        }
        self.await_exits(STOP_GRACE_MS).await;
        for node in self.cluster.up_nodes() {
            tracing::warn!(node, "did not stop after SIGTERM; sending SIGKILL");
            let _ = self.cluster.signal(node, Signal::SIGKILL);
        }
        self.await_exits(STOP_GRACE_MS).await;
        // A power cut whose process exit never came (a node that would not die): its
        // unsynced writes are lost all the same, before the clean unmount writes back the rest.
        self.power_cut_unfinished();
    }

    /// Records process exits until no node runs or `grace_ms` passed.
    async fn await_exits(&mut self, grace_ms: u64) {
        let deadline = Instant::now() + Duration::from_millis(grace_ms);
        while !self.cluster.up_nodes().is_empty() {
            tokio::select! {
                ev = self.events.recv() => match ev {
                    Some(exit @ Event::Exited { .. }) => {
                        self.handle(exit);
                        self.history.flush_batch();
                    }
                    // Replies and learns sent during the grace are recorded like any other;
                    // Paxos frames between nodes are ignored: the net is gone, nobody would
                    // deliver them, and no node could act on them any more.
                    Some(Event::Frame { node, env }) if env.dest == 0 => {
                        self.frame(node, env);
                        self.history.flush_batch();
                    }
                    Some(_) => {}
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
    }

    fn report_progress(&mut self, phase: Phase, start: Instant) {
        let elapsed_s = start.elapsed().as_secs_f64();
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
fn error_event(t: u64, node: Option<NodeId>, error: &str) -> schema::ErrorEvent<'_> {
    schema::ErrorEvent {
        t,
        error: Cow::Borrowed(error),
        frame: None,
        node: node.map(u64::from),
        op: None,
        peer: None,
    }
}

/// The `info` of an op that ended without a reply (`timeout`, `crashed`).
fn op_ended(t: u64, op: u64, node: NodeId, instance: u64, error: &'static str) -> schema::Failed<'static> {
    schema::Failed {
        t,
        error: Some(Cow::Borrowed(error)),
        instance: Some(instance),
        late: false,
        node: Some(u64::from(node)),
        op,
        text: None,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// `  n2: <path of its node.log>: <its last line>`, for an aborted run's error message.
fn log_line(dir: &RunDir, node: NodeId) -> String {
    let path = dir.node_dir(node).join("node.log");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("(empty)");
    let last: String = last.chars().take(200).collect();
    format!("  n{node}: {}: {last}", path.display())
}

fn write_meta(dir: &RunDir, cfg: &RunConfig, argv: &[String]) -> Result<()> {
    let meta = json!({
        "run_id": dir.id,
        "command_line": argv,
        "seed": cfg.seed,
        "config": cfg,
        "version": env!("CARGO_PKG_VERSION"),
        "started_at": crate::rundir::utc_stamp(std::time::SystemTime::now()),
    });
    let path = dir.path.join("meta.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&meta)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A per-run token, unpredictable to other runs on the machine.
fn random_token() -> String {
    format!("{:016x}", random_u64())
}

/// 64 random bits from the OS (for seeds and tokens; the core never calls this).
pub fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        if f.read_exact(&mut bytes).is_ok() {
            return u64::from_le_bytes(bytes);
        }
    }
    let t =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    (t as u64) ^ (u64::from(std::process::id()) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header names the run, its membership and mutant, and carries the whole config,
    /// as docs/history.md shows it (`bug` is written even when there is none), and reads back
    /// through the schema's parser.
    #[test]
    fn the_run_header_carries_membership_mutant_and_config() {
        let mut cfg = config::sample();
        cfg.trace = Trace::Ops;
        cfg.acceptors = vec![1, 2];
        let line = run_header("r1", &cfg).to_json();
        assert!(
            line.starts_with(
                r#"{"type":"run","t":0,"run_id":"r1","seed":1,"nodes":[1,2,3],"acceptors":[1,2],"#
            ),
            "{line}"
        );
        assert!(line.contains(r#""bug":null,"#), "{line}");
        let schema::Event::Run(run) = synod_checker::history::parse_line(line.as_bytes()).unwrap() else {
            panic!("{line}")
        };
        assert_eq!((run.trace(), &run.bug, &run.bug_nodes), (Some("ops"), &Some(None), &Some(vec![1, 2, 3])));
        assert_eq!(run.config, Some(serde_json::to_value(&cfg).unwrap()));
        cfg.tuning.bug = Some(synod_node::paxos::Bug::SkipFsync);
        let line = run_header("r1", &cfg).to_json();
        assert!(line.contains(r#""bug":"skip-fsync","#), "{line}");
    }

    /// A step before the history that fails (here meta.json cannot be written) leaves no
    /// history and does not move `runs/latest`: no empty history stands for a run.
    #[test]
    fn a_failed_set_up_leaves_no_empty_history_for_latest_to_name() {
        let runs = std::env::temp_dir().join(format!("synod-open-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&runs);
        let dir = RunDir::create(&runs).unwrap();
        std::fs::create_dir(dir.path.join("meta.json")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let cfg = config::sample();
        let result = rt.block_on(open(&dir, &cfg, &Schedule::default(), &[]));
        let e = result.err().expect("meta.json is a folder: cannot be written");
        assert!(format!("{e:#}").contains("meta.json"), "{e:#}");
        assert!(!dir.path.join(cfg.history_format.file_name()).exists());
        assert!(
            std::fs::symlink_metadata(runs.join("latest")).is_err(),
            "latest names a run with no history"
        );
        // When every step succeeds, the history exists and latest names the run.
        let ok_dir = RunDir::create(&runs).unwrap();
        let opened = rt.block_on(open(&ok_dir, &cfg, &Schedule::default(), &[])).unwrap();
        drop(opened);
        assert!(ok_dir.path.join(cfg.history_format.file_name()).is_file());
        assert_eq!(std::fs::read_link(runs.join("latest")).unwrap(), PathBuf::from(&ok_dir.id));
        std::fs::remove_dir_all(&runs).unwrap();
    }
}
