//! The synod controller as a library: the `synod` binary (src/main.rs) is a thin shell over
//! it, and tests and tools can plan and start runs, read histories and draw reports without
//! going through the command line.
//!
//! Layers, top to bottom (docs/architecture.md): `cli` (clap types) and `commands` (one
//! function per subcommand) above; `plan` (flags to a validated `RunConfig` and `Schedule`);
//! the commands that start runs (`soak`, `bench`, `scenario`) and read them (`inspect`,
//! `report`); `run` (the run loop); and below it `cluster`, `net`, `nemesis`, `workload`,
//! `history`, `lazyfs`.

pub mod bench;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod disk;
pub mod exit;
pub mod history;
pub mod inspect;
pub mod lazyfs;
pub mod limits;
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
pub mod soak;
pub mod workload;
