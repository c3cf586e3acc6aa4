//! The simulator behind `synod sim`: the built-in node's own code, every node in this one
//! process and thread, on a simulated clock, net and disk (docs/sim.md).
//!
//! What is simulated here is only what a real run gets from the OS: processes (start, exit,
//! signals), the sockets between the nodes and the controller, the disks (a power loss loses
//! what was not synced), and how long each takes ([`SimTiming`]). Everything else is the
//! real run's code: the run loop, the net with its faults, the workload, the nemesis, the
//! history writer (run/sim.rs is the only part of the run loop that knows it is simulated),
//! and in each node the same turn, group commit and log as the node process
//! (`synod_node::runtime::Host`).

mod process;
mod timing;
mod world;

pub use timing::SimTiming;
pub use world::SimWorld;
