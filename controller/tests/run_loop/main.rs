//! The run loop, started in-process through the controller library (`synod_controller`):
//! each test plans a run as a typed `RunConfig`, starts it on its own thread, and asserts on
//! the typed `RunOutcome` and on the history read back through `synod_checker::history`,
//! not on what the `synod` binary prints. The nodes are still real processes (the `synod`
//! binary's `node` subcommand, or a `node_cmd`); each test ends with none of them left.
//!
//! The command line itself (flags, stdout, exit codes, signals to the controller) is tested
//! by spawning `synod`, in tests/run.rs and the other files.

/// The payloads of one kind of history event: `each!(events, Ok)` iterates over the `ok`
/// lines' `synod_checker::history::Ok`s.
macro_rules! each {
    ($events:expr, $kind:ident) => {
        $events.iter().filter_map(|e| match e {
            synod_checker::history::Event::$kind(x) => Some(x),
            _ => None,
        })
    };
}

#[path = "../common/mod.rs"]
mod common;

mod aborts;
mod basics;
mod faults;
mod harness;
mod replies;
mod revisits;
