//! Interrupts (SIGINT, SIGTERM), counted. The first ends the workload early: the run still
//! goes through its final phase (heal, restart, converge), stops the nodes and checks the
//! history. A second one cuts the final phase short. A soak shares one counter across its
//! runs, so Ctrl-C ends the soak after the current run has been checked.

use tokio::sync::watch;

#[derive(Clone)]
pub struct Shutdown {
    rx: watch::Receiver<u32>,
}

impl Shutdown {
    /// Counts SIGINT and SIGTERM from now on (call inside a runtime).
    pub fn listen() -> Shutdown {
        use tokio::signal::unix::{signal, SignalKind};
        let (tx, rx) = watch::channel(0u32);
        if let (Ok(mut term), Ok(mut int)) =
            (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
        {
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                    tx.send_modify(|n| *n += 1);
                }
            });
        } else {
            tracing::warn!("cannot install signal handlers; Ctrl-C will not be handled gracefully");
            std::mem::forget(tx);
        }
        Shutdown { rx }
    }

    /// A counter nothing ever raises: for runs started through the library, which leave the
    /// program's signals alone (run/once.rs).
    pub fn never() -> Shutdown {
        // With its sender gone the count stays 0, and `reached` waits forever.
        let (_, rx) = watch::channel(0u32);
        Shutdown { rx }
    }

    /// How many interrupts have arrived.
    pub fn count(&self) -> u32 {
        *self.rx.borrow()
    }

    /// Completes once at least `n` interrupts have arrived (never, if the counter is gone).
    pub async fn reached(&mut self, n: u32) {
        if self.rx.wait_for(|&c| c >= n).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
