//! The nodes a run drives: real processes, or the simulator's in-process nodes (`synod sim`).
//!
//! The run loop asks the same few things of both (start a node, signal it, what state it is
//! in, which are up) through [`Nodes`], so that every rule of a run (what is recorded, how
//! the workload and the nemesis react) is the same code for a real run and a simulated one.
//! Only waiting differs: a real run waits for sockets, timers and child processes; a
//! simulated one moves its own clock to the next thing due (run/sim.rs).

use crate::cluster::{Cluster, ProcState};
use crate::sim::SimWorld;
use anyhow::Result;
use nix::sys::signal::Signal;
use synod_node::paxos::NodeId;

pub(crate) enum Nodes {
    Processes(Cluster),
    Simulated(Box<SimWorld>),
}

impl Nodes {
    /// Starts `node`; returns its pid (a simulated node's is a sequence number).
    pub(crate) fn spawn(&mut self, node: NodeId) -> Result<u32> {
        match self {
            Nodes::Processes(cluster) => cluster.spawn(node),
            Nodes::Simulated(world) => world.spawn(node),
        }
    }

    pub(crate) fn state(&self, node: NodeId) -> ProcState {
        match self {
            Nodes::Processes(cluster) => cluster.state(node),
            Nodes::Simulated(world) => world.state(node),
        }
    }

    pub(crate) fn signal(&mut self, node: NodeId, signal: Signal) -> Result<()> {
        match self {
            Nodes::Processes(cluster) => cluster.signal(node, signal),
            Nodes::Simulated(world) => world.signal(node, signal),
        }
    }

    /// The process `pid` of `node` has exited (its exit was seen).
    pub(crate) fn exited(&mut self, node: NodeId, pid: u32) {
        match self {
            Nodes::Processes(cluster) => cluster.exited(node, pid),
            Nodes::Simulated(world) => world.exited(node, pid),
        }
    }

    pub(crate) fn up_nodes(&self) -> Vec<NodeId> {
        match self {
            Nodes::Processes(cluster) => cluster.up_nodes(),
            Nodes::Simulated(world) => world.up_nodes(),
        }
    }

    /// The simulated world, in a simulated run.
    pub(crate) fn simulated(&mut self) -> Option<&mut SimWorld> {
        match self {
            Nodes::Processes(_) => None,
            Nodes::Simulated(world) => Some(world),
        }
    }

    pub(crate) fn is_simulated(&self) -> bool {
        matches!(self, Nodes::Simulated(_))
    }
}
