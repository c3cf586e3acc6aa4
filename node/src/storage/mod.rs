//! Durable state of a node: an append-only log of [`crate::paxos::Record`]s, and the archive of
//! decided values retired from memory.

pub mod archive;
pub mod log;

pub use archive::{Archive, ArchiveError, ARCHIVE_PREFIX};
pub use log::{AcceptorLog, LogError, Recovery, COMPACT_FILE, LOG_FILE};
