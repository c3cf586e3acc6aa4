//! Starting a [`Host`] on a disk and an archive someone else holds: the log is opened first,
//! through the real recovery path ([`AcceptorLog::open_on`]: a torn tail cut, a corrupt log
//! refused), and the host is built only once the node's [`Config`] is known (its `init`).
//!
//! Why a module of its own: the simulated processes of `synod sim`
//! (controller/src/sim/process.rs) and the core's property tests (node/tests/sim) both boot
//! and restart nodes on a `SimDisk` after crashing it. One copy of that path, so that both
//! run the recovery the node process runs (runtime/mod.rs opens its log the same way, before
//! it says hello), and neither keeps a model of its own of what a restart recovers.

use super::host::{ArchiveStore, Host};
use super::RuntimeError;
use crate::paxos::Config;
use crate::storage::{AcceptorLog, Disk, Recovery};
use std::path::Path;

/// A node whose log is open and read back, waiting for its config.
pub struct Booting<D: Disk, A> {
    log: AcceptorLog<D>,
    archive: A,
    recovery: Recovery,
}

/// Why a log could not be opened (the node exits with `error.exit_code()`), and the archive
/// given back. The disk is not: the caller keeps a copy if it needs one.
pub struct BootError<A> {
    pub error: RuntimeError,
    pub archive: A,
}

impl<D: Disk, A: ArchiveStore> Booting<D, A>
where
    RuntimeError: From<A::Error>,
{
    /// Opens the log in `dir` on `disk`, as the node process does at start-up.
    pub fn open(disk: D, archive: A, dir: &Path) -> Result<Booting<D, A>, BootError<A>> {
        match AcceptorLog::open_on(disk, dir) {
            Ok((log, recovery)) => Ok(Booting { log, archive, recovery }),
            Err(e) => Err(BootError { error: e.into(), archive }),
        }
    }

    /// What the log held.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The node's config arrived: the host, its core built from the recovered records.
    pub fn start(self, config: Config) -> Host<D, A> {
        Host::new(config, self.log, self.archive, &self.recovery)
    }

    /// The log and the archive back (the process ended before its `init`).
    pub fn into_parts(self) -> (AcceptorLog<D>, A) {
        (self.log, self.archive)
    }
}
