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

mod client;
pub mod config;
mod events;
mod finish;
mod nemesis;
mod nodes;
mod once;
mod phases;
mod power;
mod runner;
pub mod shutdown;
mod sim;
mod startup;
mod stop;

pub use once::{run_once, run_once_embedded, sim_once};

use crate::cluster::{Cluster, NodeCommand};
use crate::history::{Clock, History};
use crate::nemesis::{FaultKind, Schedule};
use crate::net::conn::accept_loop;
use crate::progress::Progress;
use crate::rundir::RunDir;
use crate::sim::{SimTiming, SimWorld};
use anyhow::{Context, Result};
use config::{RunConfig, Trace};
use nodes::Nodes;
use runner::Runner;
use serde_json::json;
use shutdown::Shutdown;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use synod_checker::history as schema;
use synod_checker::Report;
use synod_node::paxos::NodeId;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

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
    /// Seconds of wall time the check of the closed history took.
    pub check_s: f64,
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
    history.record(&run_header(Some(&dir.id), &cfg));
    progress.start_run(cfg.time_s + cfg.final_s);
    let mut r = Runner::new(cfg, schedule, history, Nodes::Processes(cluster), events, progress);
    r.disks = disks;
    let outcome = drive_and_close(r, &dir, shutdown).await;
    accept.abort();
    outcome
}

/// Runs one simulated run (`synod sim`, docs/sim.md): the same run loop, net, workload,
/// nemesis and history as [`run`], with the built-in node's code in this thread on a
/// simulated clock, net and disk (crate::sim). Its history is a function of `cfg` and
/// `schedule`: no wall-clock time and no run id in it (meta.json has the run's id), so the
/// same seed writes the same bytes.
pub async fn run_simulated(
    cfg: RunConfig,
    schedule: Schedule,
    argv: &[String],
    progress: &mut Progress,
    shutdown: Shutdown,
) -> Result<RunOutcome> {
    anyhow::ensure!(cfg.node_cmd.is_none(), "a simulation runs only the built-in node (no --node-cmd)");
    let dir = RunDir::create(&cfg.runs_dir)?;
    write_meta(&dir, &cfg, argv, true)?;
    write_schedule(&dir, &schedule)?;
    let clock = Clock::simulated();
    let trace_messages = cfg.trace == Trace::All;
    let history = History::create_with_clock(&dir.path, cfg.history_format, trace_messages, clock.clone())?;
    dir.mark_latest()?;
    let world = SimWorld::new(cfg.nodes, cfg.seed, clock, SimTiming::default());
    // Nothing sends on this channel: the world hands its events to the run loop directly.
    let (_, events) = mpsc::channel(1);
    history.record(&run_header(None, &cfg));
    progress.start_run(cfg.time_s + cfg.final_s);
    let mut r = Runner::new(cfg, schedule, history, Nodes::simulated_world(world), events, progress);
    r.net.carry_envelopes();
    drive_and_close(r, &dir, shutdown).await
}

/// What a run of processes and a simulated one both do once their nodes are at hand:
/// start-up, the workload, the final phase; then, whatever happened, the nodes stop and the
/// history is closed and checked.
async fn drive_and_close(mut r: Runner<'_>, dir: &RunDir, shutdown: Shutdown) -> Result<RunOutcome> {
    r.run_path = dir.path.clone();
    let result = r.drive(shutdown).await;
    r.stop_nodes().await;
    r.progress.finish_run();
    r.close_and_check(dir, result)
}

/// The history's first line: membership, roles, the mutant, the whole config.
fn run_header<'a>(run_id: Option<&'a str>, cfg: &RunConfig) -> schema::Event<'a> {
    let ids = |nodes: &[NodeId]| nodes.iter().map(|&n| u64::from(n)).collect::<Vec<_>>();
    schema::Event::Run(schema::Run {
        t: 0,
        run_id: run_id.map(Cow::Borrowed),
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
    write_meta(dir, cfg, argv, false)?;
    write_schedule(dir, schedule)?;
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

fn write_schedule(dir: &RunDir, schedule: &Schedule) -> Result<()> {
    let path = dir.path.join(crate::nemesis::file::SCHEDULE_FILE);
    std::fs::write(&path, crate::nemesis::file::render_schedule(schedule))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// meta.json: the run's id, command line, seed and config; `"simulated": true` for a
/// simulated run.
fn write_meta(dir: &RunDir, cfg: &RunConfig, argv: &[String], simulated: bool) -> Result<()> {
    let mut meta = json!({
        "run_id": dir.id,
        "command_line": argv,
        "seed": cfg.seed,
        "config": cfg,
        "version": env!("CARGO_PKG_VERSION"),
        "started_at": crate::rundir::utc_stamp(std::time::SystemTime::now()),
    });
    if simulated {
        meta["simulated"] = json!(true);
    }
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
        let line = run_header(Some("r1"), &cfg).to_json();
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
        let line = run_header(Some("r1"), &cfg).to_json();
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
