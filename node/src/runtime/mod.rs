//! The node process: connects the sans-IO core to the controller's socket, the clock and
//! the acceptor log.
//!
//! One loop, one task (a current-thread runtime is enough): wait for bytes, a timer or
//! shutdown; feed every complete frame to the core; then perform the core's outputs in three
//! steps: write the messages queued before the turn's first `Persist` (they depend on no new
//! state), append every `Persist` of the turn with one fdatasync (group commit), and only then
//! write the rest of the turn's messages. `PersistLazy` records wait in memory for the next
//! turn that has records to sync, and go in its batch; after 50 ms, or once 1,024 wait, they
//! go in a batch of their own. Frames that arrive during the fsync wait in the socket buffer
//! and form the next turn's batch, so a busy node batches more per fsync.
//!
//! Decisions the core retires (`Output::Archive`) go to the archive of decided values, and
//! its lookups (`Output::Lookup`) are answered from there within the same turn. Between
//! turns, once the log holds `compact_log_bytes` (16 MiB) and twice what its last snapshot
//! held, so that a node whose live state does not shrink is not rewritten every turn (or
//! the archive holds [`ARCHIVE_PENDING_MAX`] decisions in memory), the loop compacts: the
//! archive is flushed to a durable segment first, then the log is replaced by the core's
//! snapshot (storage/log.rs says how a crash at any step is survived).

pub mod env;
pub mod process;

pub use env::{EnvError, NodeEnv};
pub use process::main_with_env;

use crate::paxos::{Bug, Config, Node, NodeId, Output, Record};
use crate::protocol::body::config_from_init;
use crate::protocol::{Body, Envelope, FrameDecoder, CONTROLLER};
use crate::storage::{AcceptorLog, Archive, ArchiveError, LogError};
use std::future::Future;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How long a node waits for `init` after `hello`.
pub const HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
/// Bytes read from the socket per turn, at most.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Lazy records held for the next batch, at most, and for how long; then they are written
/// on their own.
const LAZY_RECORDS_MAX: usize = 1024;
const LAZY_WAIT_MS: u64 = 50;
/// Retired decisions held in memory for the archive at most; then the archive is flushed
/// (with a compaction, which it must precede anyway).
pub const ARCHIVE_PENDING_MAX: usize = 65_536;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Storage(#[from] LogError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(
        "{path}: the log says instance {instance} was decided and archived, but no segment holds \
         it: archived decisions were lost. Refusing to go on: this node could no longer answer for it."
    )]
    ArchiveLost { path: std::path::PathBuf, instance: u64 },
    #[error("cannot reach the controller at {addr}: {source}")]
    Connect { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("connection to the controller failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("handshake failed: {0}")]
    Handshake(String),
}

impl RuntimeError {
    /// The process exit code for this error (docs/protocol.md, "Exit codes").
    pub fn exit_code(&self) -> i32 {
        match self {
            RuntimeError::Storage(
                LogError::Corrupt { .. } | LogError::Garbled { .. } | LogError::Format { .. },
            )
            | RuntimeError::Archive(ArchiveError::Corrupt { .. })
            | RuntimeError::ArchiveLost { .. } => 3,
            _ => 1,
        }
    }
}

/// Runs a node until the controller hangs up or `shutdown` completes.
pub async fn run(env: NodeEnv, shutdown: impl Future<Output = ()>) -> Result<(), RuntimeError> {
    tokio::pin!(shutdown);
    // Storage first: a node whose log is unreadable must not even say hello.
    let (log, recovery) = AcceptorLog::open(&env.data_dir)?;
    if recovery.torn_bytes > 0 {
        tracing::warn!(bytes = recovery.torn_bytes, path = %log.path().display(), "cut a torn last batch (and the zeros after it) off the log");
    }
    tracing::info!(records = recovery.records.len(), "recovered durable state");
    let archive = Archive::open(&env.data_dir)?;

    let stream = TcpStream::connect(env.controller)
        .await
        .map_err(|source| RuntimeError::Connect { addr: env.controller, source })?;
    stream.set_nodelay(true)?;
    let (mut reader, mut writer) = stream.into_split();
    let hello = Envelope {
        src: env.node,
        dest: CONTROLLER,
        body: Body::Hello { node: env.node, token: env.token.clone() },
    };
    writer.write_all(&hello.to_frame()).await?;

    let mut decoder = FrameDecoder::new();
    let handshake = tokio::time::timeout(
        Duration::from_millis(HANDSHAKE_TIMEOUT_MS),
        await_init(env.node, &mut reader, &mut decoder),
    );
    let config = tokio::select! {
        result = handshake => {
            result.map_err(|_| RuntimeError::Handshake(format!("no init within {HANDSHAKE_TIMEOUT_MS} ms")))??
        }
        _ = &mut shutdown => {
            tracing::info!("shutdown requested before init; exiting");
            return Ok(());
        }
    };
    tracing::info!(node = config.node, bug = ?config.bug(), "initialised");
    let mut log = log;
    let mut archive = archive;
    if config.has_bug(Bug::SkipFsync) {
        log.skip_sync();
        archive.skip_sync();
    }

    let node = Node::new(config, &recovery.records);
    let mut event_loop = EventLoop {
        node,
        log,
        archive,
        snapshot_bytes: 0,
        writer,
        start: Instant::now(),
        out_buf: Vec::new(),
        records: Vec::new(),
        lazy_since: None,
    };
    event_loop.run(reader, decoder, shutdown.as_mut()).await
}

/// Reads frames until `init` arrives.
async fn await_init(
    me: NodeId,
    reader: &mut OwnedReadHalf,
    decoder: &mut FrameDecoder,
) -> Result<Config, RuntimeError> {
    let mut chunk = vec![0u8; READ_CHUNK_BYTES];
    loop {
        while let Some(frame) = decoder.next_frame() {
            let Ok(frame) = frame else { continue };
            match serde_json::from_slice::<Envelope>(frame) {
                Ok(env) => match init_config(me, &env.body)? {
                    Some(config) => return Ok(config),
                    None => {
                        tracing::warn!(body = env.body.type_name(), "frame before init ignored")
                    }
                },
                Err(e) => {
                    // A broken init is fatal at once, naming the problem, rather than a
                    // handshake timeout that hides it.
                    let value: Option<serde_json::Value> = serde_json::from_slice(frame).ok();
                    if value.as_ref().and_then(|v| v["body"]["type"].as_str()) == Some("init") {
                        return Err(RuntimeError::Handshake(format!("invalid init: {e}")));
                    }
                    tracing::warn!(error = %e, "malformed frame before init ignored")
                }
            }
        }
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            return Err(RuntimeError::Handshake("the controller closed the connection before init".into()));
        }
        decoder.feed(&chunk[..n]);
    }
}

/// The config in `body` if it is an `init`, checked: for this node, and with every duration
/// within bounds (`Tuning::validate`), so that an absurd timeout is refused at the door, by
/// name, and never reaches the clock arithmetic.
fn init_config(me: NodeId, body: &Body) -> Result<Option<Config>, RuntimeError> {
    let Some(config) = config_from_init(body) else { return Ok(None) };
    if config.node != me {
        return Err(RuntimeError::Handshake(format!("init is for node {}, I am {me}", config.node)));
    }
    config.tuning.validate().map_err(|e| RuntimeError::Handshake(format!("invalid init: {e}")))?;
    Ok(Some(config))
}

struct EventLoop {
    node: Node,
    log: AcceptorLog,
    archive: Archive,
    /// Bytes the log held right after its last compaction.
    snapshot_bytes: u64,
    writer: OwnedWriteHalf,
    start: Instant,
    /// Frames of the current turn, written after the turn's fsync.
    out_buf: Vec<u8>,
    /// Records for the next batch: this turn's, and lazy ones (learned decisions) that wait
    /// for a turn with a `Persist` (their order does not matter when they are replayed).
    records: Vec<Record>,
    /// When the oldest waiting lazy record was queued.
    lazy_since: Option<Instant>,
}

impl EventLoop {
    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    async fn run(
        &mut self,
        mut reader: OwnedReadHalf,
        mut decoder: FrameDecoder,
        mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Result<(), RuntimeError> {
        let mut chunk = vec![0u8; READ_CHUNK_BYTES];
        // Frames that arrived with init.
        self.handle_frames(&mut decoder);
        self.flush().await?;
        loop {
            let deadline = self.node.next_timeout_us().map(|us| self.start + Duration::from_micros(us));
            let lazy_deadline = self.lazy_since.map(|since| since + Duration::from_millis(LAZY_WAIT_MS));
            tokio::select! {
                read = reader.read(&mut chunk) => {
                    let n = read?;
                    if n == 0 {
                        tracing::info!("the controller closed the connection; exiting");
                        return self.write_batch();
                    }
                    decoder.feed(&chunk[..n]);
                    self.handle_frames(&mut decoder);
                }
                _ = sleep_until(deadline) => {
                    let now = self.now_us();
                    self.node.handle_timeout(now);
                }
                _ = sleep_until(lazy_deadline) => {
                    // No batch came to take them along (a learner-only node, a quiet spell).
                    self.write_batch()?;
                }
                _ = &mut shutdown => {
                    tracing::info!("shutdown requested; exiting");
                    return self.write_batch();
                }
            }
            self.flush().await?;
        }
    }

    fn handle_frames(&mut self, decoder: &mut FrameDecoder) {
        let now = self.now_us();
        let me = self.node.id();
        while let Some(frame) = decoder.next_frame() {
            let frame = match frame {
                Ok(frame) => frame,
                Err(e) => {
                    tracing::warn!(error = %e, "oversized frame skipped");
                    continue;
                }
            };
            let env: Envelope = match serde_json::from_slice(frame) {
                Ok(env) => env,
                Err(e) => {
                    let frame_no = decoder.frames_seen();
                    tracing::warn!(frame = frame_no, error = %e, "malformed frame skipped");
                    continue;
                }
            };
            if env.dest != me {
                tracing::warn!(dest = env.dest, "frame for another node skipped");
                continue;
            }
            match env.body {
                Body::Propose { msg_id, instance, value } => {
                    self.node.handle_propose(now, msg_id, instance, value)
                }
                body if body.is_paxos() => {
                    let msg = body.into_msg().expect("is_paxos bodies are messages");
                    self.node.handle_message(now, env.src, msg);
                }
                other => tracing::warn!(body = other.type_name(), src = env.src, "unexpected frame skipped"),
            }
        }
    }

    /// Every waiting record in one synced batch (a turn with a `Persist`, `LAZY_WAIT_MS`
    /// after a lazy record, or a clean exit).
    fn write_batch(&mut self) -> Result<(), RuntimeError> {
        self.log.append(&self.records)?;
        self.records.clear();
        self.lazy_since = None;
        Ok(())
    }

    /// Performs the turn's outputs: the messages queued before the turn's first persist at
    /// once, then every persist under one fdatasync, then the rest of the messages.
    async fn flush(&mut self) -> Result<(), RuntimeError> {
        let me = self.node.id();
        self.out_buf.clear();
        // Bytes of `out_buf` that no persist of this turn precedes.
        let mut free_bytes = None;
        while let Some(output) = self.node.poll_output() {
            let (dest, body) = match output {
                Output::Persist(record) => {
                    free_bytes.get_or_insert(self.out_buf.len());
                    self.records.push(record);
                    continue;
                }
                Output::PersistLazy(record) => {
                    self.records.push(record);
                    self.lazy_since.get_or_insert_with(Instant::now);
                    continue;
                }
                Output::Archive { instance, value } => {
                    self.archive.add(instance, value);
                    continue;
                }
                Output::Lookup { instance } => {
                    let value = self.archive.lookup(instance)?.ok_or_else(|| RuntimeError::ArchiveLost {
                        path: self.log.path().into(),
                        instance,
                    })?;
                    let now = self.now_us();
                    self.node.handle_lookup(now, instance, value);
                    continue;
                }
                Output::Send { to, msg } => (to, Body::from(msg)),
                Output::Learned { instance, value } => (CONTROLLER, Body::Learned { instance, value }),
                Output::ProposeDone { op, instance, result } => {
                    let body = match result {
                        Ok(value) => Body::ProposeOk { in_reply_to: op, instance, value },
                        Err(e) => {
                            Body::Error { in_reply_to: op, code: e.code().into(), text: e.text().into() }
                        }
                    };
                    (CONTROLLER, body)
                }
            };
            let env = Envelope { src: me, dest, body };
            serde_json::to_writer(&mut self.out_buf, &env).expect("envelopes always serialize");
            self.out_buf.push(b'\n');
        }
        let sync_due = free_bytes.is_some();
        let free_bytes = free_bytes.unwrap_or(self.out_buf.len());
        if free_bytes > 0 {
            self.writer.write_all(&self.out_buf[..free_bytes]).await?;
        }
        // Group commit: every record of this turn in one batch under one fdatasync, before
        // any message that came after one of them. Lazy records ride along with the next
        // batch (or go alone once `LAZY_RECORDS_MAX` wait): every batch is synced, so the log
        // never holds an unsynced write behind which another is made (storage/log.rs).
        if sync_due || self.records.len() >= LAZY_RECORDS_MAX {
            self.write_batch()?;
        }
        if self.out_buf.len() > free_bytes {
            self.writer.write_all(&self.out_buf[free_bytes..]).await?;
        }
        self.maybe_compact()
    }

    /// Compacts between turns when the log or the archive's pending decisions have grown
    /// enough (see the module docs): archive first, then the log.
    fn maybe_compact(&mut self) -> Result<(), RuntimeError> {
        let log_bytes = self.log.len_bytes();
        let min_bytes = self.node.config().tuning.compact_log_bytes;
        let log_due = log_bytes >= min_bytes.max(2 * self.snapshot_bytes);
        if !log_due && self.archive.pending_len() < ARCHIVE_PENDING_MAX {
            return Ok(());
        }
        let started = Instant::now();
        let archived = self.archive.pending_len();
        self.archive.flush()?;
        // The snapshot holds every learned decision: the lazy records waiting are in it.
        self.records.clear();
        self.lazy_since = None;
        let snapshot = self.node.snapshot();
        self.log.compact(&snapshot)?;
        self.snapshot_bytes = self.log.len_bytes();
        tracing::info!(
            log_bytes_before = log_bytes,
            log_bytes_after = self.snapshot_bytes,
            records = snapshot.len(),
            archived,
            archive_segments = self.archive.segments(),
            took_ms = started.elapsed().as_millis() as u64,
            "compacted the log"
        );
        Ok(())
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init(node: NodeId, config: &str) -> Body {
        let text = format!(
            r#"{{"type":"init","node":{node},"nodes":[1,2,3],"acceptors":[1,2,3],"proposers":[1,2,3],"learners":[1,2,3],"config":{config}}}"#
        );
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn an_init_with_an_absurd_timeout_is_refused_by_name() {
        let ok = init_config(2, &init(2, r#"{"phase_timeout_ms": 3600000}"#)).unwrap().unwrap();
        assert_eq!(ok.tuning.phase_timeout_ms, 3_600_000);
        let e = init_config(2, &init(2, r#"{"phase_timeout_ms": 18446744073709551615}"#)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "handshake failed: invalid init: config.phase_timeout_ms 18446744073709551615: at most 3600000 ms (1 hour)"
        );
        let e = init_config(2, &init(2, r#"{"decided_retry_ms": 3600001}"#)).unwrap_err();
        assert!(e.to_string().contains("config.decided_retry_ms 3600001"), "{e}");
        let e = init_config(2, &init(3, "{}")).unwrap_err();
        assert!(e.to_string().contains("init is for node 3, I am 2"), "{e}");
        assert!(init_config(2, &Body::Hello { node: 2, token: "t".into() }).unwrap().is_none());
    }
}
