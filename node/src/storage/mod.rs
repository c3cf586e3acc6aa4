//! Durable state of a node: an append-only log of [`crate::paxos::Record`]s, and the archive of
//! decided values retired from memory. The log does its file operations through a [`Disk`]:
//! [`OsDisk`] in the node, [`SimDisk`] (which crashes) in the simulator (issue 19); the
//! simulator's archive is [`SimArchive`], in memory.

pub mod archive;
pub mod disk;
pub mod log;
pub mod sim_archive;
pub mod sim_disk;

pub use archive::{Archive, ArchiveError, ARCHIVE_PREFIX};
pub use disk::{Disk, OsDisk};
pub use log::{AcceptorLog, LogError, Recovery, COMPACT_FILE, LOG_FILE};
pub use sim_archive::SimArchive;
pub use sim_disk::{Crash, CrashLoss, SimDisk, SimFile};
