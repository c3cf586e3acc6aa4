//! One simulated node process: the built-in node's own loop code
//! (`synod_node::runtime::Host`: the turn, group commit, lazy records, compaction, the
//! archive) on a simulated disk, fed the frames of its link.
//!
//! A process lives from its start to its exit. It opens its log first (a log that cannot be
//! read makes it exit at once, as the real node does), then waits for its `init` on the
//! link, checked by the same `init_config` as the real handshake, and only then builds the
//! core from the recovered records (both steps are `synod_node::runtime::Booting`, which the
//! core's property tests boot and restart their nodes with too). Each turn takes the frames waiting on the link (at most
//! [`FRAMES_PER_TURN`], as a real node reads at most one buffer a turn), fires a due
//! timeout or lazy-record deadline, and performs the turn's plan: the early frames leave at
//! once, the batch is appended and synced, and the late frames wait for the sync.

use crate::net::conn::Outbound;
use std::path::Path;
use synod_node::paxos::NodeId;
use synod_node::protocol::Envelope;
use synod_node::runtime::{init_config, Booting, Host, RuntimeError};
use synod_node::storage::{SimArchive, SimDisk};
use tokio::sync::mpsc;

/// Frames a turn takes off the link, at most.
pub const FRAMES_PER_TURN: usize = 256;

/// What a process is doing.
enum Stage {
    /// The log is open; no `init` yet.
    Booting(Box<Booting<SimDisk, SimArchive>>),
    Up(Box<Host<SimDisk, SimArchive>>),
}

pub struct SimProcess {
    pub pid: u32,
    node: NodeId,
    stage: Option<Stage>,
    /// The link's frames, once connected.
    pub link: Option<mpsc::Receiver<Outbound>>,
    frames_seen: u64,
    /// The disk sync under way ends then: until it does, the process takes no turn, and its
    /// late frames wait.
    pub busy_until_us: u64,
    /// Frames that wait for the sync under way.
    pub late: Vec<Envelope>,
    /// The host's next deadline, as of its last turn (only a turn changes it): asked of
    /// every process before every step, it is kept rather than computed again.
    deadline_us: Option<u64>,
}

/// What one turn sent, and whether the process ended.
#[derive(Default)]
pub struct TurnOutput {
    /// Frames that leave now.
    pub early: Vec<Envelope>,
    /// The process exited with this status (`exit N`): a storage error, a failed handshake.
    pub exit: Option<String>,
}

/// Why a process could not start: its exit status and error, and the archive given back.
pub struct BootFailure {
    pub status: String,
    pub error: String,
    pub archive: SimArchive,
}

impl SimProcess {
    /// Opens `node`'s log on `disk` in `dir` (a copy of the disk is kept by the caller: a
    /// failed open gives nothing back).
    pub fn boot(
        pid: u32,
        node: NodeId,
        disk: SimDisk,
        archive: SimArchive,
        dir: &Path,
    ) -> Result<SimProcess, Box<BootFailure>> {
        let booting = match Booting::open(disk, archive, dir) {
            Ok(booting) => booting,
            Err(e) => {
                let status = format!("exit {}", e.error.exit_code());
                return Err(Box::new(BootFailure { status, error: e.error.to_string(), archive: e.archive }));
            }
        };
        Ok(SimProcess {
            pid,
            node,
            stage: Some(Stage::Booting(Box::new(booting))),
            link: None,
            frames_seen: 0,
            busy_until_us: 0,
            late: Vec::new(),
            deadline_us: None,
        })
    }

    /// When the core's timeout or the lazy records' deadline is due, once up.
    pub fn next_deadline_us(&self) -> Option<u64> {
        self.deadline_us.map(|us| us.max(self.busy_until_us))
    }

    /// Whether frames wait on the link.
    pub fn has_input(&self) -> bool {
        self.link.as_ref().is_some_and(|rx| !rx.is_empty())
    }

    /// One turn at `now_us`: the waiting frames, a due deadline, then the plan. The batch is
    /// synced now; the caller holds the late frames back until `busy_until_us`, which this
    /// sets to `now_us + sync_us` when there was a batch.
    pub fn turn(&mut self, now_us: u64, sync_us: u64) -> TurnOutput {
        let out = self.try_turn(now_us, sync_us);
        self.deadline_us = match &self.stage {
            Some(Stage::Up(host)) => host.next_deadline_us(),
            _ => None,
        };
        match out {
            Ok(out) => out,
            Err(e) => {
                tracing::warn!(node = self.node, error = %e, "simulated node exits");
                TurnOutput { early: Vec::new(), exit: Some(format!("exit {}", e.exit_code())) }
            }
        }
    }

    fn try_turn(&mut self, now_us: u64, sync_us: u64) -> Result<TurnOutput, RuntimeError> {
        debug_assert!(now_us >= self.busy_until_us, "a turn during a sync");
        for _ in 0..FRAMES_PER_TURN {
            let Some(out) = self.link.as_mut().and_then(|rx| rx.try_recv().ok()) else { break };
            self.frames_seen += 1;
            self.feed(now_us, out)?;
        }
        let Some(Stage::Up(host)) = &mut self.stage else { return Ok(TurnOutput::default()) };
        if host.next_deadline_us().is_some_and(|due| due <= now_us) {
            host.handle_deadline(now_us)?;
        }
        let plan = host.plan(now_us)?;
        let synced = plan.batch.is_some();
        host.persist(plan.batch)?;
        host.maybe_compact()?;
        if synced {
            self.busy_until_us = now_us + sync_us;
        }
        assert!(synced || plan.late.is_empty(), "late frames with no sync to wait for");
        self.late.extend(plan.late);
        Ok(TurnOutput { early: plan.early, exit: None })
    }

    /// One frame (or envelope) from the link: the `init` that starts the core, or one for it.
    fn feed(&mut self, now_us: u64, out: Outbound) -> Result<(), RuntimeError> {
        match self.stage.take().expect("a process has a stage") {
            Stage::Up(mut host) => {
                match out {
                    Outbound::Frame(frame) => host.handle_frame(now_us, &frame, self.frames_seen),
                    Outbound::Envelope(env) => host.handle_envelope(now_us, env),
                }
                self.stage = Some(Stage::Up(host));
            }
            Stage::Booting(booting) => {
                // Frames before `init` are skipped, as the real handshake skips them; an
                // `init` that fails its check ends the process (exit 1).
                let env = match out {
                    Outbound::Frame(frame) => serde_json::from_slice::<Envelope>(&frame).ok(),
                    Outbound::Envelope(env) => Some(env),
                };
                let checked = match env {
                    Some(env) => init_config(self.node, &env.body),
                    None => Ok(None),
                };
                let (stage, result) = match checked {
                    Ok(Some(config)) => (Stage::Up(Box::new(booting.start(config))), Ok(())),
                    Ok(None) => (Stage::Booting(booting), Ok(())),
                    Err(e) => (Stage::Booting(booting), Err(e)),
                };
                self.stage = Some(stage);
                return result;
            }
        }
        Ok(())
    }

    /// A clean exit (SIGTERM): the waiting records written, as the real node does.
    pub fn terminate(&mut self) -> Option<String> {
        if let Some(Stage::Up(host)) = &mut self.stage {
            if let Err(e) = host.write_batch() {
                return Some(format!("exit {}", e.exit_code()));
            }
        }
        None
    }

    /// The process is gone: its disk and archive, as they are.
    pub fn into_storage(self) -> (SimDisk, SimArchive) {
        match self.stage.expect("a process has a stage") {
            Stage::Booting(booting) => {
                let (log, archive) = booting.into_parts();
                (log.into_disk(), archive)
            }
            Stage::Up(host) => {
                let (log, archive) = host.into_parts();
                (log.into_disk(), archive)
            }
        }
    }
}
