//! Errors for input the checker cannot read. A history that reads fine but shows a bug is
//! not an error: it is a [`crate::Report`] with a violated rule.

use std::path::PathBuf;

/// Why a history could not be checked (`synod check` exits 2 on any of these).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The file or run directory could not be opened (a folder without a history, or with
    /// both forms of it, too).
    #[error(transparent)]
    Open(#[from] crate::history_file::OpenError),
    /// A compressed history stops being a valid zstd stream part way; the error (a
    /// [`crate::history_file::CorruptStream`]) names the file and the last complete line.
    #[error("{0}")]
    Corrupt(std::io::Error),
    /// Reading failed part way (I/O error, not bad content).
    #[error("{source_name}: read error after line {line}: {source}")]
    Read {
        source_name: String,
        line: u64,
        #[source]
        source: std::io::Error,
    },
    /// A complete line (one that ends in a newline, or is followed by more lines) is not a
    /// valid history event. A torn *last* line is not an error: it marks a truncated run.
    #[error("{source_name}:{line}: {reason}")]
    Malformed { source_name: String, line: u64, reason: String },
    /// The history holds no event at all (an empty file, or only blank lines or unknown
    /// event types): there is nothing to judge, and no verdict.
    #[error("{source_name}: no events (the history is empty): nothing to check")]
    NoEvents { source_name: String },
    /// The checker failed to read back its own compact record of an instance. A bug in
    /// the checker, never a verdict: judging with an empty record could pass a bad history.
    #[error(
        "{source_name}:{line}: internal error: the checker cannot unpack its record of instance {instance} \
         ({reason}); no verdict"
    )]
    Internal { source_name: String, line: u64, instance: u64, reason: String },
    /// `report.json` could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CheckError {
    /// The 1-based line number a content error refers to, if any.
    pub fn line(&self) -> Option<u64> {
        match self {
            CheckError::Malformed { line, .. } | CheckError::Internal { line, .. } => Some(*line),
            _ => None,
        }
    }
}
