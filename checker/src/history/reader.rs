//! A streaming reader of typed events: [`Events`] opens a run folder or a history file (either
//! form, through [`crate::history_file::open`]) and hands out one [`Event`] at a time, each
//! borrowing the line it came from. Memory is one line, whatever the history's length.
//!
//! What a reader gets, line by line:
//! - `Some(Ok(event))` for every line that parses (unknown types as [`Event::Unknown`]);
//! - `Some(Err(ReadError::Malformed { .. }))` for a complete line that does not: the file and
//!   line number and what was wrong. The line is consumed; a reader may skip it and go on
//!   (`synod show` does, and says so) or stop (the checker does);
//! - `Some(Err(..))` once for a read error or a corrupt zstd stream, then `None`;
//! - `None` at the end. A last line without its newline that does not parse is the torn
//!   tail a killed writer leaves: not an error, [`Events::torn`] says it happened.
//!
//! Blank lines are skipped.

use super::event::Event;
use super::parse::{parse_line, ParseError};
use crate::history_file::{self, HistoryReader, OpenError};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Why an event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A complete line that is not a valid event; reading may go on past it.
    #[error("{}:{line}: {reason}", path.display())]
    Malformed { path: PathBuf, line: u64, reason: ParseError },
    /// The compressed stream is corrupt after `line` (the message names the file).
    #[error("{0}")]
    Corrupt(std::io::Error),
    /// Reading failed part way (I/O, not content).
    #[error("{}: read error after line {line}: {source}", path.display())]
    Io {
        path: PathBuf,
        line: u64,
        #[source]
        source: std::io::Error,
    },
}

/// Typed events, one at a time, from a history on disk.
pub struct Events {
    reader: HistoryReader,
    buf: Vec<u8>,
    line: u64,
    done: bool,
    torn: bool,
}

impl Events {
    /// Opens a run folder (its one history file) or a history file.
    pub fn open(path: &Path) -> Result<Events, ReadError> {
        Ok(Events {
            reader: history_file::open(path)?,
            buf: Vec::with_capacity(1024),
            line: 0,
            done: false,
            torn: false,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        self.reader.path()
    }

    /// Lines read so far (the number of the line last returned).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Whether the history ended in a torn line (a writer killed mid-line) or a compressed
    /// stream without its end: a truncated history. Meaningful once `next` returned `None`.
    pub fn torn(&self) -> bool {
        self.torn || self.reader.cut()
    }

    /// The next event; see the module docs.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<Event<'_>, ReadError>> {
        self.next_unless(|_| false)
    }

    /// The next event of a complete line that `skip` does not claim: a complete line for
    /// which `skip` returns true is passed over unparsed (it still counts in
    /// [`Events::line`]; it is not checked). For a reader that wants a few event types out
    /// of a long history and can tell the others by their bytes much faster than parsing
    /// them: `synod report` reads only the `t` of message lines, most of a history.
    pub fn next_unless(
        &mut self,
        mut skip: impl FnMut(&[u8]) -> bool,
    ) -> Option<Result<Event<'_>, ReadError>> {
        loop {
            if self.done {
                return None;
            }
            self.buf.clear();
            let n = match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(n) => n,
                Err(source) => {
                    self.done = true;
                    return Some(Err(if history_file::corrupt_stream(&source).is_some() {
                        ReadError::Corrupt(source)
                    } else {
                        ReadError::Io { path: self.reader.path().to_path_buf(), line: self.line, source }
                    }));
                }
            };
            if n == 0 {
                self.done = true;
                return None;
            }
            self.line += 1;
            let complete = self.buf.last() == Some(&b'\n');
            if !complete {
                self.done = true;
            }
            let text = self.buf.trim_ascii_end();
            if text.is_empty() || (complete && skip(text)) {
                continue;
            }
            // Borrowed again rather than reused: a borrow returned from one iteration of the
            // loop would hold `self.buf` across the next (the borrow checker's known limit).
            let line = self.line;
            let parsed = parse_line(self.buf.trim_ascii_end());
            return match parsed {
                Ok(ev) => Some(Ok(ev)),
                Err(_) if !complete => {
                    self.torn = true;
                    None
                }
                Err(reason) => {
                    Some(Err(ReadError::Malformed { path: self.reader.path().to_path_buf(), line, reason }))
                }
            };
        }
    }
}
