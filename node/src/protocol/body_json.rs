//! Bodies written as JSON by hand: the bytes serde's derive writes for them (tests hold the
//! two equal, variant by variant, on awkward strings and extreme numbers), at a fraction of
//! the cost.
//!
//! Why: every message of a run is written at least once (the node's frame, or the
//! controller's `send` line, which carries the body as it is). Serde's derive writes an
//! internally tagged enum through a map serializer that escapes every key at run time; here
//! the keys are byte literals and only the values' strings are escaped (by serde_json, so
//! the escaping is its own). `hello` and `init`, once per connection, go through serde.

use super::body::{Body, Envelope};
use crate::paxos::msg::AcceptedValue;
use crate::paxos::Ballot;

/// Appends `body`'s JSON to `out`.
pub fn write_body(body: &Body, out: &mut Vec<u8>) {
    let mut w = Writer { out, digits: itoa::Buffer::new() };
    match body {
        Body::Prepare(m) => {
            w.open(b"prepare");
            w.u64(b"instance", m.instance);
            w.ballot(b"ballot", m.ballot);
        }
        Body::Promise(m) => {
            w.open(b"promise");
            w.u64(b"instance", m.instance);
            w.ballot(b"ballot", m.ballot);
            w.key(b"accepted");
            match &m.accepted {
                None => w.out.extend_from_slice(b"null"),
                Some(AcceptedValue { ballot, value }) => {
                    w.out.extend_from_slice(b"{\"ballot\":");
                    w.ballot_value(*ballot);
                    w.out.extend_from_slice(b",\"value\":");
                    w.string_value(value);
                    w.out.push(b'}');
                }
            }
        }
        Body::Nack(m) => {
            w.open(b"nack");
            w.u64(b"instance", m.instance);
            w.ballot(b"ballot", m.ballot);
            w.ballot(b"promised", m.promised);
        }
        Body::Accept(m) => w.vote(b"accept", m.instance, m.ballot, &m.value),
        Body::Accepted(m) => w.vote(b"accepted", m.instance, m.ballot, &m.value),
        Body::Decided(m) => {
            w.open(b"decided");
            w.u64(b"instance", m.instance);
            w.string(b"value", &m.value);
        }
        Body::DecidedOk(m) => {
            w.open(b"decided_ok");
            w.u64(b"instance", m.instance);
        }
        Body::Catchup(m) => {
            w.open(b"catchup");
            w.u64(b"from_instance", m.from_instance);
            if let Some(to) = m.to_instance {
                w.u64(b"to_instance", to);
            }
        }
        Body::Propose { msg_id, instance, value } => {
            w.open(b"propose");
            w.u64(b"msg_id", *msg_id);
            w.u64(b"instance", *instance);
            w.string(b"value", value);
        }
        Body::ProposeOk { in_reply_to, instance, value } => {
            w.open(b"propose_ok");
            w.u64(b"in_reply_to", *in_reply_to);
            w.u64(b"instance", *instance);
            w.string(b"value", value);
        }
        Body::Error { in_reply_to, code, text } => {
            w.open(b"error");
            w.u64(b"in_reply_to", *in_reply_to);
            w.string(b"code", code);
            w.string(b"text", text);
        }
        Body::Learned { instance, value } => {
            w.open(b"learned");
            w.u64(b"instance", *instance);
            w.string(b"value", value);
        }
        Body::Hello { .. } | Body::Init(_) => {
            serde_json::to_writer(&mut *w.out, body).expect("bodies serialize");
            return;
        }
    }
    w.out.push(b'}');
}

impl Envelope {
    /// Serializes as one frame, newline included.
    pub fn to_frame(&self) -> Vec<u8> {
        let mut line = Vec::with_capacity(128);
        self.write_frame(&mut line);
        line
    }

    /// Appends the frame, newline included, to `out`.
    pub fn write_frame(&self, out: &mut Vec<u8>) {
        write_frame(self, out);
    }
}

/// Appends `env`'s frame (newline included) to `out`.
pub fn write_frame(env: &Envelope, out: &mut Vec<u8>) {
    let mut digits = itoa::Buffer::new();
    out.extend_from_slice(b"{\"src\":");
    out.extend_from_slice(digits.format(env.src).as_bytes());
    out.extend_from_slice(b",\"dest\":");
    out.extend_from_slice(digits.format(env.dest).as_bytes());
    out.extend_from_slice(b",\"body\":");
    write_body(&env.body, out);
    out.extend_from_slice(b"}\n");
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    digits: itoa::Buffer,
}

impl Writer<'_> {
    /// `{"type":"<name>"`: the tag, first, as the derive writes it.
    fn open(&mut self, name: &[u8]) {
        self.out.extend_from_slice(b"{\"type\":\"");
        self.out.extend_from_slice(name);
        self.out.push(b'"');
    }

    /// `,"<name>":`
    fn key(&mut self, name: &[u8]) {
        self.out.extend_from_slice(b",\"");
        self.out.extend_from_slice(name);
        self.out.extend_from_slice(b"\":");
    }

    fn u64(&mut self, name: &[u8], v: u64) {
        self.key(name);
        self.out.extend_from_slice(self.digits.format(v).as_bytes());
    }

    fn ballot(&mut self, name: &[u8], b: Ballot) {
        self.key(name);
        self.ballot_value(b);
    }

    /// `[round,node]`, as `Ballot` serializes.
    fn ballot_value(&mut self, b: Ballot) {
        self.out.push(b'[');
        self.out.extend_from_slice(self.digits.format(b.round).as_bytes());
        self.out.push(b',');
        self.out.extend_from_slice(self.digits.format(b.node).as_bytes());
        self.out.push(b']');
    }

    /// An `accept` or an `accepted`: the same fields.
    fn vote(&mut self, name: &[u8], instance: u64, ballot: Ballot, value: &str) {
        self.open(name);
        self.u64(b"instance", instance);
        self.ballot(b"ballot", ballot);
        self.string(b"value", value);
    }

    fn string(&mut self, name: &[u8], s: &str) {
        self.key(name);
        self.string_value(s);
    }

    fn string_value(&mut self, s: &str) {
        serde_json::to_writer(&mut *self.out, s).expect("strings serialize");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paxos::msg::{Accept, Accepted, Catchup, Decided, DecidedOk, Nack, Prepare, Promise};
    use crate::paxos::{Ballot, Tuning};
    use crate::protocol::Init;

    /// Strings serde escapes in every way it does (quotes, backslashes, the short escapes,
    /// other control characters as \u00XX, DEL and non-ASCII left as they are), and none.
    const AWKWARD: [&str; 5] =
        ["", "v-1-n2", "a \"q\" \\ / \n\r\t\u{8}\u{c}", "\u{0}\u{1f}\u{7f}", "välue ✓ 𝄞"];

    fn every_body() -> Vec<Body> {
        let big = Ballot::new(u64::MAX, u32::MAX);
        let b = Ballot::new(7, 3);
        let mut bodies = Vec::new();
        for s in AWKWARD {
            let v = s.to_string();
            bodies.extend([
                Body::Prepare(Prepare { instance: 0, ballot: big }),
                Body::Promise(Promise { instance: 1, ballot: b, accepted: None }),
                Body::Promise(Promise {
                    instance: u64::MAX,
                    ballot: b,
                    accepted: Some(AcceptedValue { ballot: big, value: v.clone() }),
                }),
                Body::Nack(Nack { instance: 2, ballot: b, promised: big }),
                Body::Accept(Accept { instance: 3, ballot: b, value: v.clone() }),
                Body::Accepted(Accepted { instance: 4, ballot: big, value: v.clone() }),
                Body::Decided(Decided { instance: 5, value: v.clone() }),
                Body::DecidedOk(DecidedOk { instance: 6 }),
                Body::Catchup(Catchup { from_instance: 7, to_instance: None }),
                Body::Catchup(Catchup { from_instance: 7, to_instance: Some(u64::MAX) }),
                Body::Propose { msg_id: 8, instance: 9, value: v.clone() },
                Body::ProposeOk { in_reply_to: 10, instance: 11, value: v.clone() },
                Body::Error { in_reply_to: 12, code: v.clone(), text: format!("{v}{v}") },
                Body::Learned { instance: 13, value: v.clone() },
                Body::Hello { node: 2, token: v.clone() },
            ]);
        }
        bodies.push(Body::Init(Box::new(Init {
            node: 1,
            nodes: vec![1, 2, 3],
            acceptors: vec![1, 2, 3],
            proposers: vec![1],
            learners: vec![2, 3],
            config: Tuning::default(),
        })));
        bodies
    }

    #[test]
    fn every_body_is_written_as_serde_writes_it() {
        for body in every_body() {
            let mut ours = Vec::new();
            write_body(&body, &mut ours);
            let theirs = serde_json::to_vec(&body).unwrap();
            assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
        }
    }

    #[test]
    fn every_frame_is_written_as_serde_writes_it_and_reads_back() {
        for (i, body) in every_body().into_iter().enumerate() {
            let env = Envelope { src: i as u32, dest: u32::MAX - i as u32, body };
            let mut ours = Vec::new();
            write_frame(&env, &mut ours);
            let mut theirs = serde_json::to_vec(&env).unwrap();
            theirs.push(b'\n');
            assert_eq!(ours, theirs);
            assert_eq!(serde_json::from_slice::<Envelope>(&ours).unwrap(), env);
        }
    }
}
