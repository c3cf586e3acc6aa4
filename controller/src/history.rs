//! The history writer: one JSON object a line, appended as events happen.
//!
//! Every line is a typed event of the history schema (`synod_checker::history::Event`,
//! docs/history.md), serialized by the schema's own `write_json`: the checker and every
//! reader parse it back with the same types, so what is written and what is read cannot
//! drift apart. Nothing writes a line by hand.
//!
//! Lines are serialized on the routing path but written by a dedicated thread, so a slow disk
//! never stalls the net. They are handed over in batches: the run loop gathers a turn's lines
//! and passes them with one channel send (`flush_batch`, or when a batch reaches 64 KiB),
//! because one send per line made the router and the writer contend on the channel's lock
//! (a profile of a concurrency-64 run: docs/performance.md). The thread flushes whenever it
//! has nothing queued, so a SIGKILLed controller leaves every line of the turns before on disk
//! (at most the last line is torn). The queue is bounded: when the disk falls behind, the
//! router waits rather than losing events.
//!
//! By default the lines go into one zstd frame (`history.jsonl.zst`, docs/history.md). Each
//! of the thread's flushes ends a zstd block, so what is on disk always decodes up to the last
//! flush: a killed controller leaves a frame without its end, which every reader takes as a
//! truncated history (`synod_checker::history_file`). `close` finishes the frame. A block
//! per flush costs some ratio when the run is idle and flushes often; under load the thread
//! drains many batches per flush.
//!
//! A write error (a full disk, most often) ends the writer thread: it records what went wrong
//! where the run loop looks every turn (`write_failure`), so the run stops at once rather than
//! at `close`, and the lines still handed over are dropped (the channel is closed). What is on
//! disk then decodes up to its last complete block: a truncated history, which it is.

use anyhow::{Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;
use synod_checker::history::Event;
use synod_checker::HistoryFormat;

/// Batches queued for the writer thread, at most.
const QUEUE_BATCHES: usize = 1_024;
/// A batch is handed over once it holds this many bytes.
const BATCH_BYTES: usize = 64 * 1024;
/// The zstd level of compressed histories: a fast one, the writer thread must keep up with a
/// concurrency-64 run on one core (level 1 against 3: docs/performance.md).
pub const ZSTD_LEVEL: i32 = 1;
/// Bytes buffered before the file (plain) or the encoder's output (zstd).
const WRITE_BUFFER_BYTES: usize = 256 * 1024;

pub struct History {
    tx: Option<SyncSender<Vec<u8>>>,
    /// Lines gathered since the last hand-over, each ending in a newline.
    batch: std::cell::RefCell<Vec<u8>>,
    thread: Option<JoinHandle<std::io::Result<u64>>>,
    clock: Clock,
    path: PathBuf,
    /// Set by the writer thread when a write failed: what went wrong, for the user.
    failure: Arc<OnceLock<String>>,
    /// Whether message events (send, recv, drop) are recorded (`--trace all`).
    pub trace_messages: bool,
}

impl History {
    /// Creates the history file of `format` in `dir` (its name: `format.file_name()`).
    pub fn create(dir: &Path, format: HistoryFormat, trace_messages: bool) -> Result<History> {
        History::create_with_clock(dir, format, trace_messages, Clock::wall())
    }

    /// [`History::create`] with the time of every event read from `clock` (a simulation's).
    pub fn create_with_clock(
        dir: &Path,
        format: HistoryFormat,
        trace_messages: bool,
        clock: Clock,
    ) -> Result<History> {
        let path = dir.join(format.file_name());
        let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let sink =
            Sink::new(file, format).with_context(|| format!("cannot start zstd on {}", path.display()))?;
        let (tx, rx) = sync_channel(QUEUE_BATCHES);
        let failure = Arc::new(OnceLock::new());
        let (thread_failure, thread_path) = (failure.clone(), path.clone());
        let thread = std::thread::Builder::new()
            .name("history".into())
            .spawn(move || {
                let result = write_lines(rx, sink);
                if let Err(e) = &result {
                    let _ = thread_failure.set(failure_message(&thread_path, e));
                }
                result
            })
            .context("cannot start the history writer")?;
        Ok(History {
            tx: Some(tx),
            batch: std::cell::RefCell::new(Vec::with_capacity(BATCH_BYTES + 4096)),
            thread: Some(thread),
            clock,
            path,
            failure,
            trace_messages,
        })
    }

    /// What made the writer thread stop, once a write failed (the history is cut there).
    pub fn write_failure(&self) -> Option<String> {
        self.failure.get().cloned()
    }

    /// Microseconds since the run started: the "t" of every event.
    pub fn now_us(&self) -> u64 {
        self.clock.now_us()
    }

    /// Whether the time is simulated (then it moves only when the simulator moves it).
    pub fn is_simulated(&self) -> bool {
        matches!(self.clock, Clock::Simulated(_))
    }

    /// Records `event` (its `t` is its own: `now_us` when it happened), serialized through
    /// the history schema straight into the batch: no allocation per line on the routing
    /// path.
    pub fn record(&self, event: &Event<'_>) {
        self.record_with(|batch| event.write_json(batch));
    }

    /// Records a line that `write` appends (without its newline), which must be what the
    /// schema's [`Event`] would write: the net's `send` line, written with the node's body as
    /// it is rather than first turned into the schema's raw JSON (its test holds the two to
    /// the same bytes).
    pub fn record_with(&self, write: impl FnOnce(&mut Vec<u8>)) {
        let full = {
            let mut batch = self.batch.borrow_mut();
            write(&mut batch);
            batch.push(b'\n');
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
            std::mem::replace(&mut *b, Vec::with_capacity(BATCH_BYTES + 4096))
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

/// Where the "t" of every event comes from: the wall clock since the run started, or a
/// simulator's clock, which it sets and which nothing else moves (so that the same seed
/// writes the same history, byte for byte).
#[derive(Clone, Debug)]
pub enum Clock {
    Wall(Instant),
    Simulated(Arc<AtomicU64>),
}

impl Clock {
    /// The wall clock, from now.
    pub fn wall() -> Clock {
        Clock::Wall(Instant::now())
    }

    /// A simulated clock at 0.
    pub fn simulated() -> Clock {
        Clock::Simulated(Arc::new(AtomicU64::new(0)))
    }

    pub fn now_us(&self) -> u64 {
        match self {
            Clock::Wall(start) => start.elapsed().as_micros() as u64,
            Clock::Simulated(t) => t.load(Ordering::Relaxed),
        }
    }

    /// Moves a simulated clock to `t_us`; it never goes back. Panics on the wall clock.
    pub fn set_us(&self, t_us: u64) {
        let Clock::Simulated(t) = self else { panic!("the wall clock cannot be set") };
        let before = t.swap(t_us, Ordering::Relaxed);
        assert!(before <= t_us, "the simulated clock went back from {before} to {t_us} µs");
    }
}

/// Where the writer thread puts the lines: the file, or a zstd frame in it.
enum Sink {
    Plain(BufWriter<File>),
    Zst(zstd::stream::write::Encoder<'static, BufWriter<File>>),
}

impl Sink {
    fn new(file: File, format: HistoryFormat) -> std::io::Result<Sink> {
        let out = BufWriter::with_capacity(WRITE_BUFFER_BYTES, file);
        Ok(match format {
            HistoryFormat::Jsonl => Sink::Plain(out),
            HistoryFormat::Zst => {
                let mut enc = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
                // Lets a reader tell a whole frame from a damaged one at its end.
                enc.include_checksum(true)?;
                Sink::Zst(enc)
            }
        })
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Plain(out) => out.write_all(bytes),
            Sink::Zst(enc) => enc.write_all(bytes),
        }
    }

    /// Puts everything written so far in the file: for zstd, ends the block under way, so
    /// the file decodes up to here.
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(out) => out.flush(),
            Sink::Zst(enc) => enc.flush(),
        }
    }

    /// Flushes and, for zstd, ends the frame.
    fn finish(self) -> std::io::Result<()> {
        match self {
            Sink::Plain(mut out) => out.flush(),
            Sink::Zst(enc) => enc.finish()?.flush(),
        }
    }
}

/// The user's message for a failed history write: a full disk says so.
fn failure_message(path: &Path, e: &std::io::Error) -> String {
    if crate::disk::is_full_error(e) {
        format!("the disk is full: cannot write {}: {e}", path.display())
    } else {
        format!("cannot write {}: {e}", path.display())
    }
}

fn write_lines(rx: Receiver<Vec<u8>>, mut out: Sink) -> std::io::Result<u64> {
    let mut written = 0u64;
    while let Ok(batch) = rx.recv() {
        out.write_all(&batch)?;
        written += lines_in(&batch);
        // Drain what is queued, then flush: batches under load, prompt when idle.
        while let Ok(batch) = rx.try_recv() {
            out.write_all(&batch)?;
            written += lines_in(&batch);
        }
        out.flush()?;
    }
    out.finish()?;
    Ok(written)
}

/// The lines of a batch (each ends in a newline; a serialized event holds none: JSON
/// escapes them in strings).
fn lines_in(batch: &[u8]) -> u64 {
    batch.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;
    use std::io::{BufRead, Read};
    use synod_checker::history::{parse_line, End, Invoke};

    fn invoke(t: u64, op: u64, node: u64, instance: u64, value: &str) -> Event<'_> {
        Event::Invoke(Invoke {
            t,
            instance,
            node: Some(node),
            op,
            revisit: false,
            value: Cow::Borrowed(value),
        })
    }

    fn lines_of(dir: &Path) -> Vec<String> {
        let reader = synod_checker::history_file::open(dir).unwrap();
        reader.lines().map(|l| l.unwrap()).collect()
    }

    #[test]
    fn events_are_json_lines_with_type_and_t_first() {
        for format in [HistoryFormat::Jsonl, HistoryFormat::Zst] {
            let dir = std::env::temp_dir().join(format!("synod-hist-{}-{format}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let mut h = History::create(&dir, format, true).unwrap();
            let first = invoke(h.now_us(), 1, 2, 3, "a\"b\n");
            h.record(&first);
            h.record(&Event::End(End { t: h.now_us(), ..End::default() }));
            assert_eq!(h.close().unwrap(), 2);
            assert!(dir.join(format.file_name()).is_file(), "{format}");
            let lines = lines_of(&dir);
            assert_eq!(lines.len(), 2);
            assert!(lines[0].starts_with("{\"type\":\"invoke\",\"t\":"), "{}", lines[0]);
            // Read back through the schema's parser: the same event, the newline escaped.
            assert_eq!(parse_line(lines[0].as_bytes()).unwrap(), first);
            assert!(lines[1].starts_with("{\"type\":\"end\",\"t\":"), "{}", lines[1]);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// A write error (here ENOSPC: the history is a link to /dev/full) stops the writer
    /// thread and is seen by the run loop before `close`, with the path and "disk is full";
    /// nothing blocks or panics afterwards.
    #[test]
    fn a_full_disk_is_reported_before_close_and_nothing_blocks() {
        let dir = std::env::temp_dir().join(format!("synod-hist-full-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(synod_checker::HISTORY_ZST_FILE);
        std::os::unix::fs::symlink("/dev/full", &path).unwrap();
        let mut h = History::create(&dir, HistoryFormat::Zst, true).unwrap();
        assert_eq!(h.write_failure(), None);
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        let mut turns = 0u64;
        let failure = loop {
            // More turns than the queue holds: a writer that died must not block the sender.
            for i in 0..1_000u64 {
                h.record(&invoke(h.now_us(), i, 1, i, "v"));
            }
            h.flush_batch();
            turns += 1;
            if let Some(f) = h.write_failure() {
                break f;
            }
            assert!(Instant::now() < deadline, "no failure seen after {turns} turns");
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        assert!(failure.starts_with("the disk is full: cannot write "), "{failure}");
        assert!(failure.contains(&path.display().to_string()), "{failure}");
        for _ in 0..2 * QUEUE_BATCHES {
            h.record(&invoke(h.now_us(), 1, 1, 1, "v"));
            h.flush_batch();
        }
        let e = h.close().expect_err("the write failed");
        assert!(format!("{e:#}").contains("No space left on device"), "{e:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// What a SIGKILL leaves: the file as the writer last flushed it, with no frame end.
    /// Every line handed over before a flush decodes, and the stream reads as cut.
    #[test]
    fn a_compressed_history_decodes_up_to_each_flush_before_close() {
        let dir = std::env::temp_dir().join(format!("synod-hist-flush-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut h = History::create(&dir, HistoryFormat::Zst, true).unwrap();
        let path = dir.join(synod_checker::HISTORY_ZST_FILE);
        for turn in 1..=5u64 {
            for i in 0..100 {
                h.record(&invoke(h.now_us(), turn * 1000 + i, 1, i, "v"));
            }
            h.flush_batch();
            // The writer flushes once its queue is empty: wait for the file to hold the turn.
            let deadline = Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let copy = dir.join("copy.jsonl.zst");
                std::fs::copy(&path, &copy).unwrap();
                let mut reader = synod_checker::history_file::open(&copy).unwrap();
                let mut text = String::new();
                reader.read_to_string(&mut text).unwrap();
                assert!(reader.cut(), "the frame is still open");
                if text.lines().count() as u64 == turn * 100 {
                    assert!(text.ends_with('\n'));
                    break;
                }
                assert!(Instant::now() < deadline, "turn {turn}: {} lines on disk", text.lines().count());
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        assert_eq!(h.close().unwrap(), 500);
        let mut reader = synod_checker::history_file::open(&path).unwrap();
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        assert!(!reader.cut(), "close ends the frame");
        assert_eq!(text.lines().count(), 500);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
