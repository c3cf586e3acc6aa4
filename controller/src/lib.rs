//! The synod controller as a library: the `synod` binary (src/main.rs) is a thin shell over
//! it, and tests and tools can plan and start runs, read histories and draw reports without
//! going through the command line.
//!
//! Layers, top to bottom (docs/architecture.md, "Layers"); a module imports only from below:
//! 1. `cli` (clap's types) and `commands` (one function a subcommand; flags become typed
//!    plans in `commands::flags`, and clap's types go no further);
//! 2. what the commands do: start runs from typed plans (`soak`, `shrink`, `scenario`, `bench`) or read
//!    recorded ones (`inspect`, `report`);
//! 3. one run: its plan (`plan`) and the run loop (`run`);
//! 4. the parts: `cluster`, `sim` (the simulated nodes), `net`, `nemesis`, `workload`,
//!    `history`, `lazyfs`, and the run folder's helpers.

pub mod bench;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod disk;
pub mod due;
pub mod exit;
pub mod history;
pub mod inspect;
pub mod lazyfs;
pub mod limits;
pub mod model;
pub mod nemesis;
pub mod net;
pub mod nodes;
pub mod plan;
pub mod progress;
pub mod pruned;
pub mod report;
pub mod run;
pub mod rundir;
pub mod scenario;
pub mod shrink;
pub mod sim;
pub mod soak;
pub mod workload;
