//! Power loss: the nodes' data dirs on lazy filesystems, and cutting a node's power.
//!
//! SIGKILL keeps the kernel's page cache, so a node that writes its state but never fsyncs
//! it passes every kill. A run whose schedule cuts power therefore puts each node's data dir
//! on a lazy filesystem of its own (`crate::lazyfs`): the node sees `nodes/n<k>/mnt`, the
//! real files are in `nodes/n<k>/data`, and a write reaches them only when the node fsyncs
//! that file. Cutting a node's power is SIGKILL, then, once its process has gone (so no
//! write of it is still on its way), every write it had not synced is dropped; the restart
//! comes later, from the schedule, as after a kill. A node already down loses its unsynced
//! writes at once. What was lost is recorded as a `disk` event.
//!
//! A simulated run (`synod sim`) has no lazy filesystem: its nodes' simulated disks lose
//! their unsynced writes the same way (crate::sim), recorded as the same `disk` event.
//!
//! At the end of the run every mount is unmounted cleanly (which writes back what is still
//! pending, as a clean shutdown does), and the mountpoints are removed.

use super::Runner;
use crate::cluster::ProcState;
use crate::lazyfs::{self, LazyMount};
use crate::rundir::RunDir;
use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use std::borrow::Cow;
use std::path::PathBuf;
use synod_checker::history as schema;
use synod_node::paxos::NodeId;

/// The most a node's lazy filesystem holds unsynced; beyond it a write fails with ENOSPC.
pub const PENDING_BYTES_MAX: u64 = 256 * 1024 * 1024;

/// One lazy filesystem per node, unmounted (and its mountpoint removed) on drop.
#[derive(Default)]
pub struct Disks {
    mounts: Vec<LazyMount>,
}

impl Disks {
    /// Mounts a lazy filesystem for each of `nodes` nodes: `nodes/n<k>/data` seen at
    /// `nodes/n<k>/mnt`.
    pub fn mount(dir: &RunDir, nodes: u32) -> Result<Disks> {
        lazyfs::available().map_err(anyhow::Error::msg).context("power loss needs the lazy filesystem")?;
        let mut disks = Disks::default();
        for node in 1..=nodes {
            let base = dir.node_dir(node);
            let (data, mnt) = (base.join("data"), base.join("mnt"));
            let mount = LazyMount::mount(&data, &mnt, PENDING_BYTES_MAX)
                .with_context(|| format!("cannot mount n{node}'s lazy filesystem at {}", mnt.display()))?;
            disks.mounts.push(mount);
        }
        Ok(disks)
    }

    pub fn is_mounted(&self) -> bool {
        !self.mounts.is_empty()
    }

    /// The data dir each node is given: its mountpoint, or `None` without lazy filesystems.
    pub fn data_dir(&self, node: NodeId) -> Option<PathBuf> {
        self.mounts.get(node as usize - 1).map(|m| m.mountpoint().to_path_buf())
    }
}

impl Drop for Disks {
    fn drop(&mut self) {
        let points: Vec<PathBuf> = self.mounts.iter().map(|m| m.mountpoint().to_path_buf()).collect();
        self.mounts.clear(); // unmounts, writing back what is pending
        for point in points {
            let _ = std::fs::remove_dir(point);
        }
    }
}

impl Runner<'_> {
    /// Cuts the power of `nodes`: a running or paused node is SIGKILLed and loses its unsynced
    /// writes once its exit is seen; a node already down loses them now.
    pub(super) fn cut_power(&mut self, nodes: &[NodeId], torn: bool) {
        if !self.disks.is_mounted() && !self.nodes.is_simulated() {
            self.nemesis_error("a power loss needs the lazy filesystem, and this run has none".into());
            return;
        }
        for &node in nodes {
            match self.nodes.state(node) {
                ProcState::Running | ProcState::Stopped => {
                    if let Err(e) = self.nodes.signal(node, Signal::SIGKILL) {
                        self.nemesis_error(format!("{e:#}"));
                    }
                    self.power_cut.insert(node, torn);
                }
                ProcState::Dying => {
                    self.power_cut.insert(node, torn);
                }
                ProcState::Down => self.lose_writes(node, torn),
            }
        }
    }

    /// `node`'s process has gone: if its power was cut, its unsynced writes go now (before
    /// any restart).
    pub(super) fn power_cut_exited(&mut self, node: NodeId) {
        if let Some(torn) = self.power_cut.remove(&node) {
            self.lose_writes(node, torn);
        }
    }

    /// At the stop: power cuts still waiting for their node's exit are carried out now, with
    /// an error event saying the exit was never seen.
    pub(super) fn power_cut_unfinished(&mut self) {
        for (node, torn) in std::mem::take(&mut self.power_cut) {
            let error = format!("n{node}'s power was cut but its exit was never seen; its unsynced writes are dropped at the stop");
            self.record_error(Some(node), &error);
            self.lose_writes(node, torn);
        }
    }

    fn lose_writes(&mut self, node: NodeId, torn: bool) {
        let loss = match self.nodes.simulated() {
            Some(world) => {
                let loss = world.power_loss(node, torn);
                let (files, writes, bytes) = (loss.files, loss.writes, loss.bytes);
                lazyfs::Loss { files, writes, bytes, torn_bytes_kept: loss.torn_bytes_kept }
            }
            None => self.disks.mounts[node as usize - 1].power_loss(torn),
        };
        self.history.record(&schema::Event::Disk(schema::Disk {
            t: self.history.now_us(),
            bytes: loss.bytes,
            event: Cow::Borrowed("power-loss"),
            files: loss.files,
            node: u64::from(node),
            torn,
            torn_bytes_kept: loss.torn_bytes_kept,
            writes: loss.writes,
        }));
    }
}
