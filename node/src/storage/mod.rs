//! Durable state of a node: an append-only log of [`crate::paxos::Record`]s.

pub mod log;

pub use log::{AcceptorLog, LogError, Recovery, LOG_FILE};
