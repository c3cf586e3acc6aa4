//! A stand-alone synod node: reads SYNOD_CONTROLLER, SYNOD_NODE, SYNOD_TOKEN and
//! SYNOD_DATA_DIR, dials the controller and plays Paxos until told to stop.
//! Exit codes: 0 clean stop, 1 runtime error, 2 bad environment, 3 corrupt durable state.

fn main() {
    std::process::exit(synod_node::runtime::main_with_env());
}
