//! `synod`: the controller binary. Thin: parse the command line, call the command, print
//! `Error: {e:#}` and exit with a documented code (docs/cli.md):
//! 0 safe and live, 1 safety violated, 2 usage error, unreadable input or a failed bench,
//! 3 safe but not live.

mod bench;
mod cli;
mod cluster;
mod commands;
mod disk;
mod exit;
mod history;
mod inspect;
// Wired into the nemesis by issue 15; until then only its tests use it.
mod lazyfs;
mod limits;
mod nemesis;
mod net;
mod nodes;
mod plan;
mod progress;
mod pruned;
mod report;
mod run;
mod rundir;
mod scenario;
mod soak;
mod workload;

use clap::{CommandFactory, FromArgMatches};

fn main() {
    let matches = cli::Cli::command().get_matches();
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let explicit = explicit_flags(&matches);
    if let cli::Command::Node = cli.command {
        // The node configures itself from SYNOD_* variables and sets up its own logging.
        std::process::exit(synod_node::runtime::main_with_env());
    }
    init_tracing();
    let code = match commands::dispatch(cli.command, &explicit) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            exit::EXIT_ERROR
        }
    };
    std::process::exit(code);
}

fn init_tracing() {
    let level = std::env::var("SYNOD_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::WARN);
    let _ = tracing_subscriber::fmt().with_max_level(level).with_writer(std::io::stderr).try_init();
}

/// The flags of the subcommand that were given on the command line (not defaults).
fn explicit_flags(matches: &clap::ArgMatches) -> Vec<String> {
    let Some((name, sub)) = matches.subcommand() else { return Vec::new() };
    let command = cli::Cli::command();
    let Some(definition) = command.find_subcommand(name) else { return Vec::new() };
    definition
        .get_arguments()
        .map(|a| a.get_id().as_str())
        .filter(|id| sub.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
        .map(str::to_string)
        .collect()
}
