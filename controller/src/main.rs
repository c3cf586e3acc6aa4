//! `synod`: the controller binary. Thin: parse the command line, call the command, print
//! `Error: {e:#}` and exit with a documented code (`exit::Exit`, docs/cli.md).

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
    let exit = match commands::dispatch(cli.command, &explicit) {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("Error: {e:#}");
            exit::Exit::Error
        }
    };
    std::process::exit(exit.code());
}

fn init_tracing() {
    let level = std::env::var("SYNOD_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::WARN);
    let _ = tracing_subscriber::fmt().with_max_level(level).with_writer(std::io::stderr).try_init();
}
