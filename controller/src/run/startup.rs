//! Start-up: every node started and connected, and a moment to settle, before the workload.
//!
//! Apart from the run loop because it fails differently: a node that exits or does not
//! connect here never ran, so the run is aborted (an error naming the nodes), not judged.

use super::runner::Runner;
use super::shutdown::Shutdown;
use super::{CONNECT_TIMEOUT_S, STARTUP_SETTLE_MS};
use crate::net::conn::Event;
use anyhow::{Context, Result};
use std::time::Duration;
use synod_node::paxos::NodeId;
use tokio::time::Instant;

impl Runner<'_> {
    /// Starts every node and waits until all have connected and STARTUP_SETTLE_MS have
    /// passed since the last `init`: a node that rejects its `init` and exits did not start
    /// either. Gives up (an error: the run is aborted) at once when a node exits within
    /// start-up, since nothing restarts it then, or after CONNECT_TIMEOUT_S without every
    /// node connected. Returns false if interrupted.
    pub(super) async fn start_up(&mut self, shutdown: &mut Shutdown) -> Result<bool> {
        if self.nodes.is_simulated() {
            return self.sim_start_up(shutdown).await;
        }
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
}
