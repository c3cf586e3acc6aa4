//! Stopping the nodes at the end of a run: SIGTERM, a grace period, then SIGKILL.
//!
//! What the nodes still say while they stop (replies, learns, their exits) is recorded like
//! anything else, but nothing more is invoked.

use super::runner::Runner;
use super::STOP_GRACE_MS;
use nix::sys::signal::Signal;
use std::time::Duration;
use tokio::time::Instant;

impl Runner<'_> {
    /// SIGCONT, SIGTERM, a grace period, then SIGKILL for whatever still runs.
    pub(super) async fn stop_nodes(&mut self) {
        self.stopping = true;
        if self.nodes.is_simulated() {
            return self.sim_stop();
        }
        for node in self.nodes.up_nodes() {
            let _ = self.nodes.signal(node, Signal::SIGCONT);
            let _ = self.nodes.signal(node, Signal::SIGTERM);
        }
        self.await_exits(STOP_GRACE_MS).await;
        for node in self.nodes.up_nodes() {
            tracing::warn!(node, "did not stop after SIGTERM; sending SIGKILL");
            let _ = self.nodes.signal(node, Signal::SIGKILL);
        }
        self.await_exits(STOP_GRACE_MS).await;
        // A power cut whose process exit never came (a node that would not die): its
        // unsynced writes are lost all the same, before the clean unmount writes back the rest.
        self.power_cut_unfinished();
    }

    /// Records process exits until no node runs or `grace_ms` passed.
    async fn await_exits(&mut self, grace_ms: u64) {
        let deadline = Instant::now() + Duration::from_millis(grace_ms);
        while !self.nodes.up_nodes().is_empty() {
            tokio::select! {
                ev = self.events.recv() => match ev {
                    // Exits, and replies and learns sent during the grace, are recorded like
                    // any other (run/sim.rs says what is left out).
                    Some(ev) => {
                        self.handle_while_stopping(ev);
                        self.history.flush_batch();
                    }
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
    }
}
