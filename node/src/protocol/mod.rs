//! The wire format of docs/protocol.md: newline-delimited JSON envelopes in the style of
//! Maelstrom, `{"src": 1, "dest": 2, "body": {"type": "prepare", ...}}`, each frame at most
//! [`frame::MAX_FRAME_BYTES`].

pub mod body;
pub mod body_json;
pub mod frame;

pub use body::{Body, Envelope, Init, InitConfig};
pub use frame::{FrameDecoder, FrameError, MAX_FRAME_BYTES};

/// Node id of the controller in envelopes.
pub const CONTROLLER: crate::paxos::NodeId = 0;
