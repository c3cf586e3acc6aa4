//! synod-node: single-decree Paxos, written from scratch.
//!
//! - [`paxos`]: the sans-IO core. No sockets, files, clocks or threads: time comes in as an
//!   argument (microseconds), randomness from a seeded generator, and every effect (persist a
//!   record, send a message, report a decision) comes out as an [`paxos::Output`] value.
//! - [`storage`]: the acceptor's append-only, CRC-checked log with group commit.
//! - [`protocol`]: the wire format of docs/protocol.md: envelopes, bodies and the frame decoder.
//! - [`runtime`]: the tokio process that connects the three to the controller.

pub mod paxos;
pub mod protocol;
pub mod runtime;
pub mod storage;
