//! synod-checker: reads a synod history (docs/history.md) and judges it: Paxos safety from
//! the client events and the message trace, liveness, and latency figures
//! (docs/checker.md).
//!
//! It depends on neither the node nor tokio, because it must judge histories whoever wrote
//! them: the synod controller, another tool, or a person writing a fixture by hand. It reads
//! the history once, streaming, with memory bounded by the instances and ops in flight
//! (plus a compact record per instance, see `instance.rs`).
//!
//! ```no_run
//! let report = synod_checker::check_path(std::path::Path::new("runs/latest"))?;
//! print!("{}", report.render_text());
//! std::process::exit(report.exit_code());
//! # Ok::<(), synod_checker::CheckError>(())
//! ```

mod ballot;
pub mod bench;
mod checker;
mod error;
mod hash;
pub mod history;
pub mod history_file;
mod instance;
mod latency;
mod liveness;
mod packed;
pub mod report;
mod rules;
mod store;
mod trace;

pub use ballot::Ballot;
pub use checker::{Checker, RETIRE_AFTER};
pub use error::CheckError;
pub use history_file::{HistoryFormat, HISTORY_FILE, HISTORY_ZST_FILE};
pub use report::{
    Anomaly, ClientLiveness, EventLine, Figures, LatencySummary, Liveness, Report, RuleReport, RunSummary,
    SplitLatency, UnansweredInstance, Verdict, EXIT_ABORTED, EXIT_NOT_LIVE, EXIT_OK, EXIT_UNREADABLE,
    EXIT_UNSAFE,
};
pub use rules::Rule;

use std::fs::File;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// The report file `write_report_json` writes into a run directory.
pub const REPORT_FILE: &str = "report.json";

/// Checks a run directory (its `history.jsonl.zst` or `history.jsonl`) or a history file,
/// opened through [`history_file::open`].
pub fn check_path(path: &Path) -> Result<Report, CheckError> {
    let reader = history_file::open(path)?;
    let name = reader.path().display().to_string();
    check_reader(reader, &name)
}

/// Checks a history read from `reader`; `source_name` names it in errors and the report.
pub fn check_reader<R: BufRead>(mut reader: R, source_name: &str) -> Result<Report, CheckError> {
    let mut checker = Checker::new(source_name);
    let mut buf = Vec::with_capacity(1024);
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|source| {
            if history_file::corrupt_stream(&source).is_some() {
                CheckError::Corrupt(source)
            } else {
                CheckError::Read { source_name: source_name.to_string(), line: checker.lines_read(), source }
            }
        })?;
        if n == 0 {
            break;
        }
        match buf.strip_suffix(b"\n") {
            Some(line) => checker.push_line(line)?,
            None => {
                checker.push_unterminated_last_line(&buf)?;
                break;
            }
        }
    }
    checker.finish()
}

/// Writes `report` as pretty JSON to `<dir>/report.json` (via a temporary file and a
/// rename, so a reader never sees half a report). Returns the path written.
pub fn write_report_json(dir: &Path, report: &Report) -> Result<PathBuf, CheckError> {
    let path = dir.join(REPORT_FILE);
    let tmp = dir.join(format!(".{REPORT_FILE}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(File::create(&tmp)?);
        serde_json::to_writer_pretty(&mut f, report)?;
        f.write_all(b"\n")?;
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|source| {
        // A full disk: the report.json before (if any) stays whole, the torn copy goes.
        let _ = std::fs::remove_file(&tmp);
        CheckError::Write { path: path.clone(), source }
    })?;
    Ok(path)
}
