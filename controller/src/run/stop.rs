//! Stopping the nodes at the end of a run: SIGTERM, a grace period, then SIGKILL.
//!
//! What the nodes still say while they stop (replies, learns, their exits) is recorded like
//! anything else, but nothing more is invoked.

use super::runner::Runner;
use super::STOP_GRACE_MS;
use crate::net::conn::Event;
use nix::sys::signal::Signal;
use std::time::Duration;
use tokio::time::Instant;

impl Runner<'_> {
    /// SIGCONT, SIGTERM, a grace period, then SIGKILL for whatever still runs.
    pub(super) async fn stop_nodes(&mut self) {
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
}
