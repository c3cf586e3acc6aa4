//! The hottest lines in the exact form the controller writes them, read byte by byte: a
//! `recv`, a `drop`, and a `send` of a Paxos body, which are two or three lines of every
//! message and most of every history. `synod check` spent about 6,000 instructions a line in
//! serde_json on them (a callgrind profile of `synod sim`, whose check was then 60% of a run).
//!
//! Only that exact form is taken: the fields in the controller's order, no white space, no
//! escape in a string, numbers as plain digits that fit. Anything else returns `None`, and
//! the line goes to the serde readers (`hot.rs`, then `parse.rs`), so what a line means and
//! every error message are theirs. Tests hold this reader to theirs on every line it takes,
//! and on lines broken in every way.

use super::event::{Dropped, Event, Recv, Send};
use super::msg::{AcceptedValue, Body, Msg};
use crate::ballot::Ballot;
use std::borrow::Cow;

/// The event, if the line is a `recv`, `drop` or Paxos `send` in its exact form.
pub(super) fn parse(line: &[u8]) -> Option<Event<'_>> {
    let mut c = Cursor { line, at: 0 };
    c.lit(b"{\"type\":\"")?;
    let event = if c.eat(b"recv\",\"t\":") {
        let t = c.u64()?;
        c.lit(b",\"msg\":")?;
        Event::Recv(Recv { t, msg: Some(c.u64()?) })
    } else if c.eat(b"send\",\"t\":") {
        let t = c.u64()?;
        c.lit(b",\"msg\":")?;
        let msg = c.u64()?;
        c.lit(b",\"src\":")?;
        let src = c.u64()?;
        c.lit(b",\"dest\":")?;
        let dest = c.u64()?;
        c.lit(b",\"body\":{\"type\":\"")?;
        let body = c.paxos()?;
        c.lit(b"}")?;
        Event::Send(Send { t, msg: Some(msg), src, dest, body: Body::Paxos(body) })
    } else if c.eat(b"drop\",\"t\":") {
        let t = c.u64()?;
        c.lit(b",\"msg\":")?;
        let msg = c.u64()?;
        c.lit(b",\"reason\":")?;
        Event::Drop(Dropped { t, msg: Some(msg), reason: Cow::Borrowed(c.string()?) })
    } else {
        return None;
    };
    c.lit(b"}")?;
    (c.at == line.len()).then_some(event)
}

struct Cursor<'a> {
    line: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// Takes `s` if the line goes on with it.
    fn eat(&mut self, s: &[u8]) -> bool {
        let found = self.line[self.at..].starts_with(s);
        if found {
            self.at += s.len();
        }
        found
    }

    fn lit(&mut self, s: &[u8]) -> Option<()> {
        self.eat(s).then_some(())
    }

    /// Plain digits: `0`, or no leading zero, and no more than a u64 holds.
    fn u64(&mut self) -> Option<u64> {
        let digits = self.line[self.at..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || (digits > 1 && self.line[self.at] == b'0') {
            return None;
        }
        let mut n: u64 = 0;
        for &b in &self.line[self.at..self.at + digits] {
            n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        }
        self.at += digits;
        Some(n)
    }

    /// `[round,node]`
    fn ballot(&mut self) -> Option<Ballot> {
        self.lit(b"[")?;
        let round = self.u64()?;
        self.lit(b",")?;
        let node = self.u64()?;
        self.lit(b"]")?;
        Some(Ballot(round, node))
    }

    /// A string with no escape and no control character in it, borrowed.
    fn string(&mut self) -> Option<&'a str> {
        self.lit(b"\"")?;
        let rest = &self.line[self.at..];
        let len = rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest[len] != b'"' {
            return None;
        }
        let s = std::str::from_utf8(&rest[..len]).ok()?;
        self.at += len + 1;
        Some(s)
    }

    /// `,"instance":N`
    fn instance(&mut self) -> Option<u64> {
        self.lit(b",\"instance\":")?;
        self.u64()
    }

    /// `,"ballot":[r,n]`
    fn ballot_field(&mut self, name: &[u8]) -> Option<Ballot> {
        self.lit(b",\"")?;
        self.lit(name)?;
        self.lit(b"\":")?;
        self.ballot()
    }

    /// `,"value":"..."`
    fn value(&mut self) -> Option<Cow<'a, str>> {
        self.lit(b",\"value\":")?;
        self.string().map(Cow::Borrowed)
    }

    /// A Paxos body after its `{"type":"`, up to its closing brace (not taken).
    fn paxos(&mut self) -> Option<Msg<'a>> {
        Some(if self.eat(b"prepare\"") {
            Msg::Prepare { instance: self.instance()?, ballot: self.ballot_field(b"ballot")? }
        } else if self.eat(b"promise\"") {
            let instance = self.instance()?;
            let ballot = self.ballot_field(b"ballot")?;
            self.lit(b",\"accepted\":")?;
            let accepted = if self.eat(b"null") {
                None
            } else {
                self.lit(b"{\"ballot\":")?;
                let ballot = self.ballot()?;
                let value = self.value()?;
                self.lit(b"}")?;
                Some(AcceptedValue { ballot, value })
            };
            Msg::Promise { instance, ballot, accepted }
        } else if self.eat(b"nack\"") {
            let instance = self.instance()?;
            let ballot = self.ballot_field(b"ballot")?;
            Msg::Nack { instance, ballot, promised: Some(self.ballot_field(b"promised")?) }
        } else if self.eat(b"accepted\"") {
            let (instance, ballot) = (self.instance()?, self.ballot_field(b"ballot")?);
            Msg::Accepted { instance, ballot, value: self.value()? }
        } else if self.eat(b"accept\"") {
            let (instance, ballot) = (self.instance()?, self.ballot_field(b"ballot")?);
            Msg::Accept { instance, ballot, value: self.value()? }
        } else if self.eat(b"decided_ok\"") {
            Msg::DecidedOk { instance: self.instance()? }
        } else if self.eat(b"decided\"") {
            Msg::Decided { instance: self.instance()?, value: self.value()? }
        } else {
            return None;
        })
    }
}
