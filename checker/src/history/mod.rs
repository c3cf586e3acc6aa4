//! The history schema: one set of types for every line of a history (docs/history.md),
//! written and read through the same code by the controller, the checker and every command
//! that looks at a run.
//!
//! - [`Event`] and its structs: what each line holds. The controller builds them and
//!   serializes them ([`Event::write_json`]); nothing writes a history line by hand.
//! - [`parse_line`]: one line back to an [`Event`], fast (the checker's hot path) and strict
//!   where the verdict depends on a field, lenient where it does not.
//! - [`Events`]: a streaming reader over a run folder or history file, either form
//!   (`.jsonl` or `.jsonl.zst`), with line numbers in its errors.
//! - [`FaultState`] and [`Window`]: the one rule that turns nemesis actions into fault
//!   windows, for the checker's calm/fault split and the report's shading.
//!
//! It lives in the checker crate because the checker must read histories whoever wrote
//! them, and depends on neither the node nor tokio; the controller depends on it.

mod event;
mod exact;
mod faults;
mod flat_body;
mod hot;
mod msg;
mod parse;
mod parse_error;
mod reader;
#[cfg(test)]
mod tests;

pub use event::{
    Discarded, Disk, Dropped, End, ErrorEvent, Event, Failed, Invoke, Learn, Nemesis, Ok, Phase, Process,
    Recv, Run, Send,
};
pub use faults::{FaultMark, FaultState, Window};
pub use msg::{AcceptedValue, Body, Msg, PAXOS_TYPES};
pub use parse::{parse_line, ParseError, KNOWN_TYPES};
pub use reader::{Events, ReadError};
