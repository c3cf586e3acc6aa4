//! The process around the runtime: parent-death signal, logging, signals, exit codes. Shared
//! by the `synod-node` binary and the controller's hidden `synod node` subcommand.

use super::{run, NodeEnv};

/// Exit code: clean stop.
pub const EXIT_OK: i32 = 0;
/// Exit code: a runtime error (controller unreachable, handshake, I/O).
pub const EXIT_RUNTIME: i32 = 1;
/// Exit code: a missing or invalid environment variable.
pub const EXIT_ENV: i32 = 2;

/// Runs a node configured from the environment; returns the process exit code.
pub fn main_with_env() -> i32 {
    // Die with the controller, whatever kills it (SIGKILL included). The controller sets this
    // too before exec; setting it again costs nothing and covers nodes started by hand.
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    init_tracing();
    let env = match NodeEnv::from_env() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("Error: {e}");
            return EXIT_ENV;
        }
    };
    let node = env.node;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the runtime: {e}");
            return EXIT_RUNTIME;
        }
    };
    let result = runtime.block_on(async move {
        // Register the handlers before anything else, so that SIGTERM is a clean stop even
        // during start-up.
        let shutdown = shutdown_signal();
        run(env, shutdown).await
    });
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            tracing::error!(node, "{e}");
            eprintln!("Error: n{node}: {e}");
            e.exit_code()
        }
    }
}

/// Registers SIGTERM and SIGINT handlers now (call it inside a runtime); the returned future
/// completes on the first of either.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let handlers = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
    async move {
        let (Ok(mut term), Ok(mut int)) = handlers else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}

/// Logs to stderr; level from SYNOD_LOG (error, warn, info, debug, trace; default info).
fn init_tracing() {
    let level = std::env::var("SYNOD_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
