//! The history writer: one JSON object a line, appended as events happen.
//!
//! Lines are formatted on the routing path but written by a dedicated thread, so a slow disk
//! never stalls the net. They are handed over in batches: the run loop gathers a turn's lines
//! and passes them with one channel send (`flush_batch`, or when a batch reaches 64 KiB),
//! because one send per line made the router and the writer contend on the channel's lock
//! (a profile of a concurrency-64 run: docs/performance.md). The thread flushes whenever it
//! has nothing queued, so a SIGKILLed controller leaves every line of the turns before on disk
//! (at most the last line is torn). The queue is bounded: when the disk falls behind, the
//! router waits rather than losing events.

use anyhow::{Context, Result};
use serde_json::Value;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Instant;

/// Batches queued for the writer thread, at most.
const QUEUE_BATCHES: usize = 1_024;
/// A batch is handed over once it holds this many bytes.
const BATCH_BYTES: usize = 64 * 1024;

pub struct History {
    tx: Option<SyncSender<String>>,
    /// Lines gathered since the last hand-over, each ending in a newline.
    batch: std::cell::RefCell<String>,
    thread: Option<JoinHandle<std::io::Result<u64>>>,
    start: Instant,
    path: PathBuf,
    /// Whether message events (send, recv, drop) are recorded (`--trace all`).
    pub trace_messages: bool,
}

impl History {
    pub fn create(path: &Path, trace_messages: bool) -> Result<History> {
        let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let (tx, rx) = sync_channel(QUEUE_BATCHES);
        let thread = std::thread::Builder::new()
            .name("history".into())
            .spawn(move || write_lines(rx, BufWriter::with_capacity(256 * 1024, file)))
            .context("cannot start the history writer")?;
        Ok(History {
            tx: Some(tx),
            batch: std::cell::RefCell::new(String::with_capacity(BATCH_BYTES + 4096)),
            thread: Some(thread),
            start: Instant::now(),
            path: path.to_path_buf(),
            trace_messages,
        })
    }

    /// Microseconds since the run started: the "t" of every event.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// Records an event: `fields` must be a JSON object; "t" and "type" are put first.
    pub fn event(&self, kind: &str, fields: Value) -> u64 {
        let t = self.now_us();
        self.event_at(t, kind, fields);
        t
    }

    pub fn event_at(&self, t: u64, kind: &str, fields: Value) {
        assert!(
            kind.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
            "event kinds are plain names: {kind:?}"
        );
        self.append(|batch| {
            write!(batch, "{{\"type\":\"{kind}\",\"t\":{t}")?;
            if let Value::Object(map) = fields {
                for (k, v) in map {
                    // Display writes compact JSON straight into the batch.
                    write!(batch, ",{}:{v}", Value::String(k))?;
                }
            }
            batch.write_char('}')
        });
    }

    /// Queues one line (without its newline), formatted straight into the batch: no
    /// allocation per line on the routing path.
    pub fn line(&self, line: std::fmt::Arguments) {
        self.append(|batch| batch.write_fmt(line));
    }

    /// Writes one line into the batch with `write`, ends it, and hands the batch over when
    /// it is full.
    fn append(&self, write: impl FnOnce(&mut String) -> std::fmt::Result) {
        let full = {
            let mut batch = self.batch.borrow_mut();
            write(&mut batch).expect("writing to a String cannot fail");
            batch.push('\n');
            batch.len() >= BATCH_BYTES
        };
        if full {
            self.flush_batch();
        }
    }

    /// Hands the gathered lines to the writer thread (the run loop calls it every turn).
    pub fn flush_batch(&self) {
        let Some(tx) = &self.tx else { return };
        let batch = {
            let mut b = self.batch.borrow_mut();
            if b.is_empty() {
                return;
            }
            std::mem::replace(&mut *b, String::with_capacity(BATCH_BYTES + 4096))
        };
        match tx.try_send(batch) {
            Ok(()) => {}
            Err(TrySendError::Full(batch)) => {
                // Backpressure: wait for the disk rather than drop an event.
                let _ = tx.send(batch);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Flushes and closes the file; returns the number of lines written.
    pub fn close(&mut self) -> Result<u64> {
        self.flush_batch();
        self.tx.take();
        match self.thread.take() {
            Some(thread) => {
                let written = thread.join().map_err(|_| anyhow::anyhow!("the history writer panicked"))?;
                written.with_context(|| format!("cannot write {}", self.path.display()))
            }
            None => Ok(0),
        }
    }
}

impl Drop for History {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

fn write_lines(rx: Receiver<String>, mut out: BufWriter<File>) -> std::io::Result<u64> {
    let mut written = 0u64;
    while let Ok(batch) = rx.recv() {
        out.write_all(batch.as_bytes())?;
        written += batch.bytes().filter(|&b| b == b'\n').count() as u64;
        // Drain what is queued, then flush: batches under load, prompt when idle.
        while let Ok(batch) = rx.try_recv() {
            out.write_all(batch.as_bytes())?;
            written += batch.bytes().filter(|&b| b == b'\n').count() as u64;
        }
        out.flush()?;
    }
    out.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_json_lines_with_type_and_t_first() {
        let dir = std::env::temp_dir().join(format!("synod-hist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        let mut h = History::create(&path, true).unwrap();
        h.event("invoke", json!({"op": 1, "node": 2, "instance": 3, "value": "a\"b\n"}));
        h.event("end", json!({}));
        assert_eq!(h.close().unwrap(), 2);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("{\"type\":\"invoke\",\"t\":"), "{}", lines[0]);
        let v: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["value"], "a\"b\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
