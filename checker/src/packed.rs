//! Retired instances, packed into one byte string each.
//!
//! Once an instance has been learned by every learner and has aged out of the retirement
//! queue, its heavy part (trace, timing) is dropped, and what the rules still need for late
//! messages (the compact record of `instance.rs`: value table, (ballot, value) pairs with
//! their votes, per-acceptor highest ballots, the decision, the chosen pair and the
//! decisions still waiting for a majority) is encoded
//! as LEB128 varints, line numbers and times as zig-zag deltas from the decision.
//! A decided, uncontended instance of 5 acceptors packs into about 150 bytes, against
//! well over a kilobyte as Rust structs and vectors, which is what keeps a long history's
//! memory small.
//!
//! A late event on a retired instance unpacks it, runs the same rule code as for a live
//! instance, and packs it again. Late events are rare, so the cost does not matter; that
//! the rules exist once does.

use crate::ballot::Ballot;
use crate::instance::{AcceptorState, BallotEntry, Chosen, Decision, DecisionKind, Instance, Ref};

/// Packs the compact record of `inst` (its `live` part is ignored).
pub(crate) fn pack(inst: &Instance) -> Box<[u8]> {
    // Votes and promises cluster around the decision: deltas from it are short.
    let base = inst.decided.map(|d| d.at).or(inst.retired_at).unwrap_or_default();
    let mut w = Writer { out: Vec::with_capacity(160), base };
    w.u(inst.reported as u64);
    w.u(base.line);
    w.u(base.t);
    w.at(inst.retired_at.unwrap_or(base));
    w.u(inst.values.len() as u64);
    for v in &inst.values {
        w.u(v.len() as u64);
        w.out.extend_from_slice(v.as_bytes());
    }
    w.u(inst.ballots.len() as u64);
    for e in &inst.ballots {
        w.ballot(e.ballot);
        w.u(e.value as u64);
        w.at(e.first);
        w.u(e.votes.len() as u64);
        for (node, at) in &e.votes {
            w.u(*node);
            w.at(*at);
        }
    }
    w.u(inst.acceptors.len() as u64);
    for a in &inst.acceptors {
        w.u(a.node);
        w.ballot(a.max);
        w.at(a.max_at);
        match a.max_accepted {
            None => w.u(0),
            Some((b, at)) => {
                w.u(1);
                w.ballot(b);
                w.at(at);
            }
        }
    }
    w.decision(inst.decided);
    match inst.chosen {
        None => w.u(0),
        Some(c) => {
            w.u(1);
            w.ballot(c.ballot);
            w.u(c.value as u64);
            w.at(c.at);
        }
    }
    w.u(inst.pending.len() as u64);
    for d in &inst.pending {
        w.decision(Some(*d));
    }
    w.out.into_boxed_slice()
}

/// Unpacks what [`pack`] wrote. `None` only if the bytes were not written by `pack`.
pub(crate) fn unpack(bytes: &[u8]) -> Option<Instance> {
    let mut r = Reader { bytes, pos: 0, base: Ref::default() };
    let mut inst = Instance::default();
    inst.reported = r.u()? as u8;
    r.base = Ref { line: r.u()?, t: r.u()? };
    inst.retired_at = Some(r.at()?);
    for _ in 0..r.u()? {
        let len = r.u()? as usize;
        let end = r.pos.checked_add(len)?;
        let text = std::str::from_utf8(r.bytes.get(r.pos..end)?).ok()?;
        r.pos = end;
        inst.intern(text);
    }
    for _ in 0..r.u()? {
        let ballot = r.ballot()?;
        let value = r.u()? as u32;
        let first = r.at()?;
        let mut votes = Vec::new();
        for _ in 0..r.u()? {
            votes.push((r.u()?, r.at()?));
        }
        inst.ballots.push(BallotEntry { ballot, value, first, votes });
    }
    for _ in 0..r.u()? {
        let node = r.u()?;
        let max = r.ballot()?;
        let max_at = r.at()?;
        let max_accepted = match r.u()? {
            0 => None,
            _ => Some((r.ballot()?, r.at()?)),
        };
        inst.acceptors.push(AcceptorState { node, max, max_at, max_accepted });
    }
    inst.decided = r.decision()?;
    if r.u()? != 0 {
        inst.chosen = Some(Chosen { ballot: r.ballot()?, value: r.u()? as u32, at: r.at()? });
    }
    for _ in 0..r.u()? {
        inst.pending.push(r.decision()??);
    }
    // Every byte read: a record with trailing bytes was not written by `pack`.
    if r.pos != bytes.len() {
        return None;
    }
    inst.live = None;
    Some(inst)
}

struct Writer {
    out: Vec<u8>,
    base: Ref,
}

impl Writer {
    fn u(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    fn delta(&mut self, v: u64, base: u64) {
        let d = v.wrapping_sub(base) as i64;
        self.u(((d << 1) ^ (d >> 63)) as u64);
    }

    fn at(&mut self, at: Ref) {
        self.delta(at.line, self.base.line);
        self.delta(at.t, self.base.t);
    }

    fn ballot(&mut self, b: Ballot) {
        self.u(b.0);
        self.u(b.1);
    }

    fn decision(&mut self, d: Option<Decision>) {
        let Some(d) = d else {
            self.u(0);
            return;
        };
        self.u(match (d.kind, d.node) {
            (DecisionKind::Learn, None) => 1,
            (DecisionKind::Ok, None) => 2,
            (DecisionKind::Learn, Some(_)) => 3,
            (DecisionKind::Ok, Some(_)) => 4,
        });
        self.u(d.value as u64);
        self.at(d.at);
        if let Some(n) = d.node {
            self.u(n);
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: Ref,
}

impl Reader<'_> {
    fn u(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.bytes.get(self.pos)?;
            self.pos += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn delta(&mut self, base: u64) -> Option<u64> {
        let z = self.u()?;
        let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
        Some(base.wrapping_add(d as u64))
    }

    fn at(&mut self) -> Option<Ref> {
        Some(Ref { line: self.delta(self.base.line)?, t: self.delta(self.base.t)? })
    }

    fn ballot(&mut self) -> Option<Ballot> {
        Some(Ballot(self.u()?, self.u()?))
    }

    /// `None`: unreadable; `Some(None)`: no decision.
    fn decision(&mut self) -> Option<Option<Decision>> {
        let tag = self.u()?;
        if tag == 0 {
            return Some(None);
        }
        if tag > 4 {
            return None;
        }
        let kind = if tag % 2 == 1 { DecisionKind::Learn } else { DecisionKind::Ok };
        let value = self.u()? as u32;
        let at = self.at()?;
        let node = if tag >= 3 { Some(self.u()?) } else { None };
        Some(Some(Decision { value, at, node, kind }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_small() {
        let mut inst = Instance::new();
        let a = inst.intern("i17-op42");
        let b = inst.intern("i17-op43");
        let at = |line, t| Ref { line, t };
        let e = inst.ballot_entry(Ballot(1, 4), a, at(100, 5_000));
        for n in 1..=5 {
            e.votes.push((n, at(100 + n, 5_000 + n)));
        }
        inst.ballot_entry(Ballot(u64::MAX, 3), b, at(7, 1));
        for n in 1..=5 {
            inst.acceptors.push(AcceptorState {
                node: n,
                max: Ballot(1, 4),
                max_at: at(90 + n, 4_900),
                max_accepted: (n % 2 == 0).then_some((Ballot(1, 4), at(100 + n, 5_000 + n))),
            });
        }
        inst.decided = Some(Decision { value: a, at: at(120, 5_100), node: Some(3), kind: DecisionKind::Ok });
        inst.chosen = Some(Chosen { ballot: Ballot(1, 4), value: a, at: at(103, 5_003) });
        inst.pending.push(Decision { value: b, at: at(130, 5_200), node: None, kind: DecisionKind::Learn });
        inst.pending.push(Decision { value: a, at: at(131, 5_201), node: Some(9), kind: DecisionKind::Ok });
        inst.reported = 0b1010100;
        inst.retire(Ref { line: 5_000_000, t: 9_000_000_000 });
        let bytes = pack(&inst);
        assert!(bytes.len() < 220, "{} bytes", bytes.len());
        let back = unpack(&bytes).unwrap();
        assert_eq!(back.values, inst.values);
        assert_eq!(back.lookup("i17-op43"), Some(b));
        assert_eq!(back.ballots.len(), 2);
        assert_eq!(back.ballots[0].votes, inst.ballots[0].votes);
        assert_eq!(back.ballots[1].ballot, Ballot(u64::MAX, 3));
        assert_eq!(back.ballots[1].first, at(7, 1));
        assert_eq!(format!("{:?}", back.acceptors), format!("{:?}", inst.acceptors));
        assert_eq!(format!("{:?}", back.decided), format!("{:?}", inst.decided));
        assert_eq!(format!("{:?}", back.chosen), format!("{:?}", inst.chosen));
        assert_eq!(format!("{:?}", back.pending), format!("{:?}", inst.pending));
        assert_eq!(back.reported, inst.reported);
        assert!(back.live.is_none());
        assert!(unpack(&bytes[..bytes.len() - 1]).is_none());
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(unpack(&longer).is_none(), "trailing bytes");
    }
}
