//! `synod`: the controller binary. Thin: parse the command line, call the command, print
//! `Error: {e:#}` and exit with a documented code (docs/cli.md):
//! 0 safe and live, 1 safety violated, 2 usage error, unreadable input or a failed bench,
//! 3 safe but not live.

use clap::{CommandFactory, FromArgMatches};
use synod_controller::{cli, commands, exit};

fn main() {
    let matches = cli::Cli::command().get_matches();
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let explicit = cli::explicit_flags(&matches);
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
