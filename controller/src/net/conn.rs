//! Connections from nodes: accept, handshake, then one reader and one writer task each.
//!
//! Readers parse every frame (the controller must, to record and fault it) and hand it to the
//! router as an [`Event`]; a malformed frame becomes an `Event::Malformed`, never a panic.
//! Writers drain a bounded queue into the socket; when a node stops reading (SIGSTOP), its
//! socket buffer fills, then its queue, and the router drops further messages as a full
//! network buffer would.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use synod_node::paxos::NodeId;
use synod_node::protocol::{Body, Envelope, FrameDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Frames queued for one node, at most.
pub const NODE_QUEUE_FRAMES: usize = 8192;
/// How long a new connection has to say hello.
const HELLO_TIMEOUT_MS: u64 = 5_000;

/// Distinguishes a node's successive connections (it reconnects after each restart).
pub type ConnId = u64;

/// What a link carries to its node: a frame's bytes, or the envelope itself.
///
/// A node process's socket takes bytes, which the net builds once per message (with the body
/// the history line already serialized). A simulated node takes the envelope: it would only
/// parse the bytes back into the same value, which is most of what a simulated message
/// costs (docs/sim.md). The net builds one kind or the other for a whole run
/// ([`crate::net::Net::carry_envelopes`]); each end takes either.
#[derive(Debug, Clone, PartialEq)]
pub enum Outbound {
    Frame(Vec<u8>),
    Envelope(Envelope),
}

impl Outbound {
    /// The frame's bytes, newline included.
    pub fn into_frame(self) -> Vec<u8> {
        match self {
            Outbound::Frame(frame) => frame,
            Outbound::Envelope(env) => env.to_frame(),
        }
    }
}

#[derive(Debug)]
pub enum Event {
    /// A node passed the handshake; frames for it go into `tx`.
    Connected { node: NodeId, conn: ConnId, tx: mpsc::Sender<Outbound> },
    /// A frame from a connected node.
    Frame { node: NodeId, env: Envelope },
    /// A frame that could not be parsed, or was too long.
    Malformed { node: NodeId, frame: u64, error: String },
    /// A connection that failed the handshake.
    Rejected { peer: String, reason: String },
    /// The connection ended (the node exited, was killed, or closed it).
    Disconnected { node: NodeId, conn: ConnId },
    /// A node process exited.
    Exited { node: NodeId, pid: u32, status: String },
}

/// Accepts connections until the router goes away.
pub async fn accept_loop(listener: TcpListener, token: String, nodes: u32, events: mpsc::Sender<Event>) {
    accept_with(|| listener.accept(), token, nodes, events).await
}

/// The accept loop over any source of connections (a test injects failures through it).
/// A failed accept is retried after a pause ([`AcceptBackoff`]), never at once: an error
/// such as EMFILE (out of file descriptors) persists, and retrying it at once would spin a
/// core and starve the router that shares this thread.
async fn accept_with<F, Fut>(mut accept: F, token: String, nodes: u32, events: mpsc::Sender<Event>)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = io::Result<(TcpStream, SocketAddr)>>,
{
    let mut next_conn: ConnId = 0;
    let mut backoff = AcceptBackoff::default();
    while !events.is_closed() {
        let (stream, peer) = match accept().await {
            Ok(accepted) => {
                backoff.succeeded();
                accepted
            }
            Err(e) => {
                tokio::time::sleep(backoff.failed(&e)).await;
                continue;
            }
        };
        if !peer.ip().is_loopback() {
            continue; // the listener is bound to loopback; refuse anything else all the same
        }
        next_conn += 1;
        let conn = next_conn;
        let (token, conn_events) = (token.clone(), events.clone());
        tokio::spawn(async move {
            if let Err(reason) = serve(stream, conn, &token, nodes, conn_events.clone()).await {
                let _ = conn_events.send(Event::Rejected { peer: peer.to_string(), reason }).await;
            }
        });
    }
}

/// The pause after a failed accept: 10 ms, doubling up to 100 ms while the failures go on,
/// back to 10 ms after a success. The first failure of a streak is logged, not every one.
#[derive(Debug)]
struct AcceptBackoff {
    wait_ms: u64,
    failing: bool,
}

const ACCEPT_BACKOFF_MIN_MS: u64 = 10;
const ACCEPT_BACKOFF_MAX_MS: u64 = 100;

impl Default for AcceptBackoff {
    fn default() -> AcceptBackoff {
        AcceptBackoff { wait_ms: ACCEPT_BACKOFF_MIN_MS, failing: false }
    }
}

impl AcceptBackoff {
    fn failed(&mut self, error: &io::Error) -> Duration {
        if !self.failing {
            tracing::warn!(%error, "cannot accept a node's connection; retrying every {ACCEPT_BACKOFF_MIN_MS}-{ACCEPT_BACKOFF_MAX_MS} ms");
            self.failing = true;
        }
        let wait = Duration::from_millis(self.wait_ms);
        self.wait_ms = (self.wait_ms * 2).min(ACCEPT_BACKOFF_MAX_MS);
        wait
    }

    fn succeeded(&mut self) {
        if self.failing {
            tracing::warn!("accepting connections again");
        }
        *self = AcceptBackoff::default();
    }
}

async fn serve(
    stream: TcpStream,
    conn: ConnId,
    token: &str,
    nodes: u32,
    events: mpsc::Sender<Event>,
) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let (mut reader, writer) = stream.into_split();
    let mut decoder = FrameDecoder::new();
    let hello =
        tokio::time::timeout(Duration::from_millis(HELLO_TIMEOUT_MS), first_frame(&mut reader, &mut decoder))
            .await
            .map_err(|_| format!("no hello within {HELLO_TIMEOUT_MS} ms"))??;
    let node = match hello.body {
        Body::Hello { node, token: ref t }
            if t == token && (1..=nodes).contains(&node) && hello.src == node =>
        {
            node
        }
        Body::Hello { node, token: ref t } if t != token => return Err(format!("n{node}: wrong token")),
        Body::Hello { node, .. } => return Err(format!("hello from n{node}, not a node of n1..n{nodes}")),
        other => return Err(format!("expected hello, got {}", other.type_name())),
    };
    let (tx, rx) = mpsc::channel(NODE_QUEUE_FRAMES);
    tokio::spawn(write_loop(writer, rx));
    if events.send(Event::Connected { node, conn, tx }).await.is_err() {
        return Ok(());
    }
    read_loop(node, conn, reader, decoder, events).await;
    Ok(())
}

async fn first_frame(reader: &mut OwnedReadHalf, decoder: &mut FrameDecoder) -> Result<Envelope, String> {
    let mut chunk = vec![0u8; 4096];
    loop {
        if let Some(frame) = decoder.next_frame() {
            let frame = frame.map_err(|e| e.to_string())?;
            return serde_json::from_slice(frame).map_err(|e| format!("malformed hello: {e}"));
        }
        let n = reader.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before hello".into());
        }
        decoder.feed(&chunk[..n]);
    }
}

async fn read_loop(
    node: NodeId,
    conn: ConnId,
    mut reader: OwnedReadHalf,
    mut decoder: FrameDecoder,
    events: mpsc::Sender<Event>,
) {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        while let Some(frame) = decoder.next_frame() {
            let event = match frame {
                Ok(bytes) => match serde_json::from_slice::<Envelope>(bytes) {
                    Ok(env) => Event::Frame { node, env },
                    Err(e) => {
                        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
                        Event::Malformed { node, frame: decoder.frames_seen(), error: format!("{e}: {text}") }
                    }
                },
                Err(e) => Event::Malformed { node, frame: decoder.frames_seen(), error: e.to_string() },
            };
            if events.send(event).await.is_err() {
                return;
            }
        }
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => decoder.feed(&chunk[..n]),
        }
    }
    let _ = events.send(Event::Disconnected { node, conn }).await;
}

async fn write_loop(mut writer: OwnedWriteHalf, mut rx: mpsc::Receiver<Outbound>) {
    let mut batch = Vec::with_capacity(64 * 1024);
    while let Some(out) = rx.recv().await {
        batch.clear();
        append(&mut batch, out);
        // Coalesce whatever else is queued into one write.
        while batch.len() < 256 * 1024 {
            match rx.try_recv() {
                Ok(out) => append(&mut batch, out),
                Err(_) => break,
            }
        }
        if writer.write_all(&batch).await.is_err() {
            return;
        }
    }
}

/// Appends `out`'s frame to `batch`.
fn append(batch: &mut Vec<u8>, out: Outbound) {
    match out {
        Outbound::Frame(frame) => batch.extend_from_slice(&frame),
        Outbound::Envelope(env) => env.write_frame(batch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_grows_to_its_cap_and_resets() {
        let mut b = AcceptBackoff::default();
        let emfile = io::Error::from_raw_os_error(24);
        let waits: Vec<u64> = (0..6).map(|_| b.failed(&emfile).as_millis() as u64).collect();
        assert_eq!(waits, [10, 20, 40, 80, 100, 100]);
        b.succeeded();
        assert_eq!(b.failed(&emfile), Duration::from_millis(10));
    }

    /// A listener that fails every accept with EMFILE: the loop pauses between tries instead
    /// of spinning. Ten failures take at least 10+20+40+80+100*5 ms; a spinning loop takes
    /// microseconds. (The router goes away after the tenth, which ends the loop either way.)
    #[test]
    fn a_persistent_accept_error_is_retried_with_pauses_not_spun_on() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let (tx, rx) = mpsc::channel(1);
            let mut rx = Some(rx);
            let mut calls = 0u32;
            let accept = || {
                calls += 1;
                if calls == 10 {
                    rx.take(); // the router goes away
                }
                std::future::ready(Err(io::Error::from_raw_os_error(24)))
            };
            let started = std::time::Instant::now();
            accept_with(accept, "t".into(), 3, tx).await;
            let elapsed = started.elapsed();
            assert!(elapsed >= Duration::from_millis(600), "10 failed accepts in {elapsed:?}: a spin");
        });
    }
}
