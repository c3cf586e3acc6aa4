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
//!
//! What a turn does is decided in [`turn`] (sans-IO: the time is an argument, the archive a
//! trait, the turn's effects a [`Plan`] of values) and performed, all but the socket, by a
//! [`Host`] (host.rs: the log on a `Disk`, the archive behind [`ArchiveStore`]), so that the
//! simulator (issue 19) runs the same code on its own disk and archive; this file only reads
//! the socket, keeps the clock, writes the plan's frames in order and logs compactions.

pub mod boot;
pub mod env;
pub mod host;
pub mod process;
pub mod turn;

pub use boot::{BootError, Booting};
pub use env::{EnvError, NodeEnv};
pub use host::{ArchiveStore, Compaction, Host};
pub use process::main_with_env;
pub use turn::{ArchiveAccess, Driver, Plan, TurnError, ARCHIVE_PENDING_MAX, LAZY_RECORDS_MAX, LAZY_WAIT_MS};

use crate::paxos::{Config, NodeId};
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

/// An archive that cannot fail (the simulator's in memory) has no error to map.
impl From<std::convert::Infallible> for RuntimeError {
    fn from(e: std::convert::Infallible) -> RuntimeError {
        match e {}
    }
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
    let host = Host::new(config, log, archive, &recovery);
    let mut event_loop = EventLoop { host, writer, start: Instant::now(), out_buf: Vec::new() };
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
/// name, and never reaches the clock arithmetic. Public so that the simulator (issue 19)
/// runs the very same handshake check on the init it hands each node.
pub fn init_config(me: NodeId, body: &Body) -> Result<Option<Config>, RuntimeError> {
    let Some(config) = config_from_init(body) else { return Ok(None) };
    if config.node != me {
        return Err(RuntimeError::Handshake(format!("init is for node {}, I am {me}", config.node)));
    }
    config.tuning.validate().map_err(|e| RuntimeError::Handshake(format!("invalid init: {e}")))?;
    Ok(Some(config))
}

struct EventLoop {
    host: Host,
    writer: OwnedWriteHalf,
    start: Instant,
    /// The turn's frames, serialized: the early ones, then the late ones.
    out_buf: Vec<u8>,
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
            let deadline = self.host.next_deadline_us().map(|us| self.start + Duration::from_micros(us));
            tokio::select! {
                read = reader.read(&mut chunk) => {
                    let n = read?;
                    if n == 0 {
                        tracing::info!("the controller closed the connection; exiting");
                        return self.host.write_batch();
                    }
                    decoder.feed(&chunk[..n]);
                    self.handle_frames(&mut decoder);
                }
                _ = sleep_until(deadline) => {
                    let now = self.now_us();
                    self.host.handle_deadline(now)?;
                }
                _ = &mut shutdown => {
                    tracing::info!("shutdown requested; exiting");
                    return self.host.write_batch();
                }
            }
            self.flush().await?;
        }
    }

    /// Decodes every complete frame and hands each to the host.
    fn handle_frames(&mut self, decoder: &mut FrameDecoder) {
        let now = self.now_us();
        loop {
            // A complete frame is the decoder's next one (the tail of an oversized frame is
            // not counted), and the frame borrows the decoder: so its number is taken first.
            let frame_no = decoder.frames_seen() + 1;
            let Some(frame) = decoder.next_frame() else { break };
            match frame {
                Ok(frame) => self.host.handle_frame(now, frame, frame_no),
                Err(e) => tracing::warn!(error = %e, "oversized frame skipped"),
            }
        }
    }

    /// Performs the turn's plan: the frames queued before the turn's first persist at once,
    /// then the batch under one fdatasync, then the rest of the frames; then compacts if due.
    async fn flush(&mut self) -> Result<(), RuntimeError> {
        let now = self.now_us();
        let plan = self.host.plan(now)?;
        write_frames(&mut self.writer, &mut self.out_buf, &plan.early).await?;
        self.host.persist(plan.batch)?;
        write_frames(&mut self.writer, &mut self.out_buf, &plan.late).await?;
        let started = Instant::now();
        if let Some(c) = self.host.maybe_compact()? {
            tracing::info!(
                log_bytes_before = c.log_bytes_before,
                log_bytes_after = c.log_bytes_after,
                records = c.records,
                archived = c.archived,
                archive_segments = c.archive_segments,
                took_ms = started.elapsed().as_millis() as u64,
                "compacted the log"
            );
        }
        Ok(())
    }
}

/// Writes `frames` as newline-terminated JSON in one write (none if there are none).
async fn write_frames(
    writer: &mut OwnedWriteHalf,
    buf: &mut Vec<u8>,
    frames: &[Envelope],
) -> std::io::Result<()> {
    if frames.is_empty() {
        return Ok(());
    }
    buf.clear();
    for env in frames {
        serde_json::to_writer(&mut *buf, env).expect("envelopes always serialize");
        buf.push(b'\n');
    }
    writer.write_all(buf).await
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
