//! The net: a star, as in Maelstrom. Every node holds one TCP connection to the controller,
//! which routes every peer message. That gives one clock for the whole history, a complete
//! message trace, and faults at message granularity: TCP would turn a dropped packet into
//! latency, while a dropped message is what Paxos must survive.
//!
//! Each message gets an id and is recorded as `send`, then `recv` when it is handed to the
//! destination's connection, or `drop` with a reason (`loss`, `partition`, `down`,
//! `overflow`, `unknown-dest`).

pub mod conn;
pub mod faults;

use crate::due::DueQueue;
use crate::history::History;
use conn::{ConnId, Outbound};
use faults::{Fate, Faults};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use synod_checker::history::{Dropped, Event, Recv};
use synod_node::paxos::rng::Rng;
use synod_node::paxos::NodeId;
use synod_node::protocol::body_json::write_body;
use synod_node::protocol::Envelope;
use tokio::sync::mpsc;

/// Messages held for delayed delivery, at most.
pub const MAX_DELAYED: usize = 1_000_000;

/// Appends `env`'s `send` line, as message `msg` at `t`: the bytes `Event::Send` writes with
/// the body's raw JSON (a test holds the two equal), without making the raw JSON first.
fn write_send_line(out: &mut Vec<u8>, t: u64, msg: u64, env: &Envelope) {
    let mut digits = itoa::Buffer::new();
    out.extend_from_slice(br#"{"type":"send","t":"#);
    out.extend_from_slice(digits.format(t).as_bytes());
    out.extend_from_slice(br#","msg":"#);
    out.extend_from_slice(digits.format(msg).as_bytes());
    out.extend_from_slice(br#","src":"#);
    out.extend_from_slice(digits.format(env.src).as_bytes());
    out.extend_from_slice(br#","dest":"#);
    out.extend_from_slice(digits.format(env.dest).as_bytes());
    out.extend_from_slice(br#","body":"#);
    write_body(&env.body, out);
    out.push(b'}');
}

struct Link {
    conn: ConnId,
    tx: mpsc::Sender<Outbound>,
}

/// A message on its way.
struct Delayed {
    msg: u64,
    dest: NodeId,
    out: Outbound,
}

#[derive(Debug, Default, Clone)]
pub struct NetStats {
    pub sent: u64,
    pub delivered: u64,
    pub dropped: BTreeMap<&'static str, u64>,
}

impl NetStats {
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

pub struct Net {
    pub faults: Faults,
    links: Vec<Option<Link>>,
    delayed: DueQueue<Delayed>,
    next_msg: u64,
    rng: Rng,
    pub stats: NetStats,
    /// Nodes whose messages are held (`hold`), and the messages held for them.
    held: HashSet<NodeId>,
    holding: Vec<(u64, NodeId, Outbound)>,
    /// Message ids whose delivery someone waits for, and those delivered since asked.
    watched: HashSet<u64>,
    watched_delivered: Vec<u64>,
    /// The links carry envelopes, not frames ([`Net::carry_envelopes`]).
    envelopes: bool,
}

impl Net {
    pub fn new(nodes: u32, faults: Faults, seed: u64) -> Net {
        Net {
            faults,
            links: (0..=nodes).map(|_| None).collect(),
            delayed: DueQueue::default(),
            next_msg: 0,
            rng: Rng::new(seed ^ 0x6e65_745f_7365_6564),
            stats: NetStats::default(),
            held: HashSet::new(),
            holding: Vec::new(),
            watched: HashSet::new(),
            watched_delivered: Vec::new(),
            envelopes: false,
        }
    }

    /// From now on, hands the links envelopes rather than frames: for simulated nodes,
    /// which would only parse a frame back into its envelope ([`Outbound`]).
    pub fn carry_envelopes(&mut self) {
        self.envelopes = true;
    }

    /// What a link gets for `env`: the envelope, or its frame.
    fn outbound(&self, env: Envelope) -> Outbound {
        if self.envelopes {
            Outbound::Envelope(env)
        } else {
            Outbound::Frame(env.to_frame())
        }
    }

    pub fn connect(&mut self, node: NodeId, conn: ConnId, tx: mpsc::Sender<Outbound>) {
        self.links[node as usize] = Some(Link { conn, tx });
    }

    /// Forgets a node's connection if `conn` is still the current one.
    pub fn disconnect(&mut self, node: NodeId, conn: ConnId) {
        let slot = &mut self.links[node as usize];
        if slot.as_ref().is_some_and(|l| l.conn == conn) {
            *slot = None;
        }
    }

    pub fn connected(&self) -> usize {
        self.links.iter().filter(|l| l.is_some()).count()
    }

    /// Whether `node` has a connection.
    pub fn is_connected(&self, node: NodeId) -> bool {
        self.links.get(node as usize).is_some_and(Option::is_some)
    }

    /// Sends a controller frame (init, propose) straight to a node; false if it is not connected.
    pub fn send_direct(&mut self, node: NodeId, env: &Envelope) -> bool {
        match self.links.get(node as usize).and_then(|l| l.as_ref()) {
            Some(link) => link.tx.try_send(self.outbound(env.clone())).is_ok(),
            None => false,
        }
    }

    /// Routes a peer message: records it, applies the faults, delivers or delays it. The
    /// envelope is taken, not borrowed: a link that carries envelopes gets this one.
    pub fn route(&mut self, history: &History, env: Envelope) {
        let (now, msg) = self.record_send(history, &env);
        if env.dest == 0 || env.dest as usize >= self.links.len() {
            self.drop_msg(history, now, msg, "unknown-dest");
            return;
        }
        match self.faults.fate(&mut self.rng, env.src, env.dest) {
            Fate::Drop(reason) => self.drop_msg(history, now, msg, reason),
            Fate::Deliver { delay_us, duplicate } => {
                let dest = env.dest;
                let frame = self.outbound(env);
                if let Some(dup_us) = duplicate {
                    self.schedule(history, now, msg, dest, dup_us, frame.clone());
                }
                self.schedule(history, now, msg, dest, delay_us, frame);
            }
        }
    }

    /// Records a peer message as sent and lost with `reason`, without delivering it.
    pub fn route_dropped(&mut self, history: &History, env: &Envelope, reason: &'static str) {
        let (now, msg) = self.record_send(history, env);
        self.drop_msg(history, now, msg, reason);
    }

    /// Gives `env` the next message id and records its `send`: (now, its id).
    fn record_send(&mut self, history: &History, env: &Envelope) -> (u64, u64) {
        self.next_msg += 1;
        self.stats.sent += 1;
        let (now, msg) = (history.now_us(), self.next_msg);
        if history.trace_messages {
            history.record_with(|out| write_send_line(out, now, msg, env));
        }
        (now, msg)
    }

    fn schedule(
        &mut self,
        history: &History,
        now: u64,
        msg: u64,
        dest: NodeId,
        delay_us: u64,
        frame: Outbound,
    ) {
        if delay_us == 0 {
            self.deliver(history, now, msg, dest, frame);
        } else if self.delayed.len() >= MAX_DELAYED {
            self.drop_msg(history, now, msg, "overflow");
        } else {
            self.delayed.push(now + delay_us, Delayed { msg, dest, out: frame });
        }
    }

    /// The id the next routed message will get.
    pub fn next_msg_id(&self) -> u64 {
        self.next_msg + 1
    }

    /// Reports message `msg`'s delivery through `take_watched_deliveries`.
    pub fn watch(&mut self, msg: u64) {
        self.watched.insert(msg);
    }

    pub fn take_watched_deliveries(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.watched_delivered)
    }

    /// Holds every message to these nodes from now on, until `release`.
    pub fn hold(&mut self, nodes: &[NodeId]) {
        self.held.extend(nodes.iter().copied());
    }

    /// Delivers what was held for these nodes, in order, and stops holding.
    pub fn release(&mut self, history: &History, nodes: &[NodeId]) {
        for n in nodes {
            self.held.remove(n);
        }
        let now = history.now_us();
        let (go, stay): (Vec<_>, Vec<_>) =
            self.holding.drain(..).partition(|(_, dest, _)| nodes.contains(dest));
        self.holding = stay;
        for (msg, dest, frame) in go {
            self.deliver(history, now, msg, dest, frame);
        }
    }

    pub fn release_all(&mut self, history: &History) {
        let nodes: Vec<NodeId> = self.held.iter().copied().collect();
        let mut all: Vec<NodeId> = self.holding.iter().map(|h| h.1).collect();
        all.extend(nodes);
        all.sort();
        all.dedup();
        self.release(history, &all);
    }

    /// When the next delayed message is due (microseconds on the history clock).
    pub fn next_due_us(&self) -> Option<u64> {
        self.delayed.next_at_us()
    }

    /// Delivers every delayed message that is due.
    pub fn deliver_due(&mut self, history: &History) {
        let now = history.now_us();
        while let Some(d) = self.delayed.pop_due(now) {
            self.deliver(history, now, d.msg, d.dest, d.out);
        }
    }

    /// Delivers everything still delayed at once (the final heal).
    pub fn flush_delayed(&mut self, history: &History) {
        let now = history.now_us();
        while let Some(d) = self.delayed.pop() {
            self.deliver(history, now, d.msg, d.dest, d.out);
        }
    }

    fn deliver(&mut self, history: &History, now: u64, msg: u64, dest: NodeId, frame: Outbound) {
        if !self.held.is_empty() && self.held.contains(&dest) {
            if self.holding.len() >= MAX_DELAYED {
                self.drop_msg(history, now, msg, "overflow");
            } else {
                self.holding.push((msg, dest, frame));
            }
            return;
        }
        let outcome = match self.links[dest as usize].as_ref() {
            None => Err("down"),
            Some(link) => match link.tx.try_send(frame) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(_)) => Err("overflow"),
                Err(mpsc::error::TrySendError::Closed(_)) => Err("down"),
            },
        };
        match outcome {
            Ok(()) => {
                self.stats.delivered += 1;
                if !self.watched.is_empty() && self.watched.remove(&msg) {
                    self.watched_delivered.push(msg);
                }
                if history.trace_messages {
                    history.record(&Event::Recv(Recv { t: now, msg: Some(msg) }));
                }
            }
            Err(reason) => self.drop_msg(history, now, msg, reason),
        }
    }

    fn drop_msg(&mut self, history: &History, now: u64, msg: u64, reason: &'static str) {
        *self.stats.dropped.entry(reason).or_default() += 1;
        if history.trace_messages {
            history.record(&Event::Drop(Dropped { t: now, msg: Some(msg), reason: Cow::Borrowed(reason) }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_node::paxos::msg::{Accept, Prepare};
    use synod_node::paxos::Ballot;
    use synod_node::protocol::Body;

    /// A 3-node net with n2 connected (its frames come out of the receiver), recording into
    /// a plain history in a fresh dir named after `name`.
    fn net_with_n2(
        name: &str,
        trace_messages: bool,
    ) -> (std::path::PathBuf, History, Net, mpsc::Receiver<Outbound>) {
        let dir = std::env::temp_dir().join(format!("synod-net-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let history = History::create(&dir, synod_checker::HistoryFormat::Jsonl, trace_messages).unwrap();
        let mut net = Net::new(3, Faults::default(), 1);
        let (tx, rx) = mpsc::channel(4);
        net.connect(2, 1, tx);
        (dir, history, net, rx)
    }

    #[test]
    fn routed_frames_are_the_envelope_byte_for_byte_and_recorded() {
        let (dir, mut history, mut net, mut rx) = net_with_n2("all", true);
        let env = Envelope {
            src: 1,
            dest: 2,
            body: Body::Prepare(Prepare { instance: 7, ballot: Ballot::new(3, 1) }),
        };
        net.route(&history, env.clone());
        assert_eq!(rx.try_recv().unwrap(), Outbound::Frame(env.to_frame()));
        // Not connected: dropped as `down`.
        net.route(&history, Envelope { dest: 3, ..env.clone() });
        assert_eq!(net.stats.dropped.get("down"), Some(&1));
        history.close().unwrap();
        let mut events = synod_checker::history::Events::open(&dir).unwrap();
        let mut kinds = Vec::new();
        while let Some(ev) = events.next() {
            let ev = ev.unwrap();
            if let Event::Send(send) = &ev {
                assert_eq!(
                    (send.src, send.body.type_name().as_deref(), send.body.instance()),
                    (1, Some("prepare"), Some(7))
                );
            }
            if let Event::Drop(drop) = &ev {
                assert_eq!(drop.reason, "down");
            }
            kinds.push(ev.kind().to_string());
        }
        assert_eq!(kinds, ["send", "recv", "send", "drop"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// With `--trace ops` the body goes straight into the frame: the same bytes, and no
    /// message line in the history.
    #[test]
    fn without_the_message_trace_frames_are_the_same_and_nothing_is_recorded() {
        let (dir, mut history, mut net, mut rx) = net_with_n2("ops", false);
        let value = "a \"quoted\" value\n".repeat(20);
        let env = Envelope {
            src: 1,
            dest: 2,
            body: Body::Accept(Accept { instance: 9, ballot: Ballot::new(4, 1), value }),
        };
        net.route(&history, env.clone());
        assert_eq!(rx.try_recv().unwrap(), Outbound::Frame(env.to_frame()));
        net.route(&history, Envelope { dest: 3, ..env.clone() });
        assert_eq!((net.stats.sent, net.stats.delivered, net.stats.dropped.get("down")), (2, 1, Some(&1)));
        assert_eq!(history.close().unwrap(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Links that carry envelopes get the envelope itself, and the history gets the same
    /// `send` line, byte for byte, as when the net builds frames: a simulated run's history
    /// is what the same run with frames would write.
    #[test]
    fn carried_envelopes_are_the_envelope_and_recorded_the_same() {
        let value = "a \"quoted\" välue\n".repeat(3);
        let env = Envelope {
            src: 1,
            dest: 2,
            body: Body::Accept(Accept { instance: 9, ballot: Ballot::new(4, 1), value }),
        };
        let mut lines = Vec::new();
        for envelopes in [false, true] {
            let dir =
                std::env::temp_dir().join(format!("synod-net-carry-{envelopes}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            // On a simulated clock, which stands still: the two histories' times are equal.
            let clock = crate::history::Clock::simulated();
            let mut history =
                History::create_with_clock(&dir, synod_checker::HistoryFormat::Jsonl, true, clock).unwrap();
            let mut net = Net::new(3, Faults::default(), 1);
            let (tx, mut rx) = mpsc::channel(4);
            net.connect(2, 1, tx);
            if envelopes {
                net.carry_envelopes();
            }
            net.route(&history, env.clone());
            assert!(net.send_direct(2, &env));
            for _ in 0..2 {
                let got = rx.try_recv().unwrap();
                let want =
                    if envelopes { Outbound::Envelope(env.clone()) } else { Outbound::Frame(env.to_frame()) };
                assert_eq!(got, want);
            }
            history.close().unwrap();
            lines.push(std::fs::read_to_string(dir.join("history.jsonl")).unwrap());
            std::fs::remove_dir_all(&dir).unwrap();
        }
        assert!(lines[0].contains(r#""type":"send""#), "{}", lines[0]);
        assert_eq!(lines[0], lines[1]);
    }

    /// The `send` line written by hand is the line the schema's `Event::Send` writes with
    /// the body's raw JSON, for every kind of Paxos body.
    #[test]
    fn send_lines_are_what_the_schema_writes() {
        use synod_checker::history::{Body as HistoryBody, Send};
        use synod_node::paxos::msg::{AcceptedValue, Catchup, Promise};
        let b = Ballot::new(u64::MAX, 7);
        for body in [
            Body::Prepare(Prepare { instance: 7, ballot: b }),
            Body::Promise(Promise {
                instance: 1,
                ballot: b,
                accepted: Some(AcceptedValue { ballot: b, value: "v \"q\" \u{1}".into() }),
            }),
            Body::Accept(Accept { instance: 9, ballot: b, value: "välue\n".into() }),
            Body::Catchup(Catchup { from_instance: 3, to_instance: None }),
        ] {
            let env = Envelope { src: 4, dest: 5, body };
            let mut ours = Vec::new();
            write_send_line(&mut ours, 123, u64::MAX, &env);
            let raw = serde_json::value::to_raw_value(&env.body).unwrap();
            let schema = Event::Send(Send {
                t: 123,
                msg: Some(u64::MAX),
                src: 4,
                dest: 5,
                body: HistoryBody::Raw(Cow::Borrowed(&raw)),
            });
            let mut theirs = Vec::new();
            schema.write_json(&mut theirs);
            assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
        }
    }
}
