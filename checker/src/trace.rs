//! The bounded message trace of one instance, shown with an anomaly.
//!
//! Every Paxos `send` of an instance (delivered or not: it is what the node emitted) and
//! every client-level event of it (invoke, ok, fail, info, learn) is kept in compact form,
//! values as indexes into the instance's value table. A contended instance can exchange
//! thousands of messages, so the trace keeps the first [`HEAD`] lines and the last [`TAIL`]
//! lines and counts what it dropped between them: the start shows how the instance began,
//! the tail what led to the anomaly.

use crate::ballot::Ballot;
use crate::report::EventLine;
use std::collections::VecDeque;
use std::fmt::Write;

/// Lines kept from the start of an instance.
pub const HEAD: usize = 50;
/// Lines kept from the end (so far) of an instance.
pub const TAIL: usize = 150;

/// Index into an instance's value table.
pub(crate) type ValueId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MsgKind {
    Prepare,
    Promise,
    Nack,
    Accept,
    Accepted,
    Decided,
    DecidedOk,
}

impl MsgKind {
    pub fn name(self) -> &'static str {
        match self {
            MsgKind::Prepare => "prepare",
            MsgKind::Promise => "promise",
            MsgKind::Nack => "nack",
            MsgKind::Accept => "accept",
            MsgKind::Accepted => "accepted",
            MsgKind::Decided => "decided",
            MsgKind::DecidedOk => "decided_ok",
        }
    }
}

/// What happened on one line, compactly.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Entry {
    Invoke {
        op: u64,
        node: Option<u64>,
        value: ValueId,
    },
    Ok {
        op: u64,
        node: Option<u64>,
        value: ValueId,
        late: bool,
    },
    Failed {
        op: u64,
        node: Option<u64>,
        info: bool,
        late: bool,
    },
    Learn {
        node: u64,
        value: ValueId,
    },
    Msg {
        src: u64,
        dest: u64,
        kind: MsgKind,
        ballot: Option<Ballot>,
        value: Option<ValueId>,
        /// promise: the accepted ballot it reports; nack: the promised ballot.
        other: Option<Ballot>,
    },
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct TraceLine {
    pub line: u64,
    pub t: u64,
    pub entry: Entry,
}

#[derive(Debug, Default)]
pub(crate) struct Trace {
    head: Vec<TraceLine>,
    tail: VecDeque<TraceLine>,
    omitted: u64,
}

impl Trace {
    pub fn push(&mut self, line: TraceLine) {
        if self.head.len() < HEAD {
            self.head.push(line);
            return;
        }
        if self.tail.len() == TAIL {
            self.tail.pop_front();
            self.omitted += 1;
        }
        self.tail.push_back(line);
    }

    /// The kept line with this number, if any.
    pub fn find(&self, line: u64) -> Option<&TraceLine> {
        self.head.iter().chain(self.tail.iter()).find(|l| l.line == line)
    }

    /// Renders the trace; returns the lines, how many were omitted, and the line number
    /// after which they were omitted.
    pub fn render(&self, values: &[Box<str>]) -> (Vec<EventLine>, u64, Option<u64>) {
        let lines = self.head.iter().chain(self.tail.iter()).map(|l| l.render(values)).collect();
        let gap = (self.omitted > 0).then(|| self.head.last().map_or(0, |l| l.line));
        (lines, self.omitted, gap)
    }
}

impl TraceLine {
    pub fn render(&self, values: &[Box<str>]) -> EventLine {
        EventLine { line: self.line, t_us: self.t, text: describe(&self.entry, values) }
    }
}

/// A value for people: quoted, escaped, and cut if long.
pub(crate) fn show_value(values: &[Box<str>], id: ValueId) -> String {
    let v = values.get(id as usize).map_or("?", |v| &**v);
    show_str(v)
}

pub(crate) fn show_str(v: &str) -> String {
    const MAX: usize = 40;
    if v.chars().count() <= MAX {
        format!("{v:?}")
    } else {
        let cut: String = v.chars().take(MAX).collect();
        format!("{cut:?}...")
    }
}

fn late_mark(late: bool) -> &'static str {
    if late {
        "late "
    } else {
        ""
    }
}

fn node(n: Option<u64>) -> String {
    n.map_or_else(|| "?".to_string(), |n| format!("n{n}"))
}

pub(crate) fn describe(entry: &Entry, values: &[Box<str>]) -> String {
    match *entry {
        Entry::Invoke { op, node: n, value } => {
            format!("invoke op {op} at {} value {}", node(n), show_value(values, value))
        }
        Entry::Ok { op, node: n, value, late } => {
            format!("{}ok op {op} at {} value {}", late_mark(late), node(n), show_value(values, value))
        }
        Entry::Failed { op, node: n, info, late } => {
            format!("{}{} op {op} at {}", late_mark(late), if info { "info" } else { "fail" }, node(n))
        }
        Entry::Learn { node: n, value } => format!("learn at n{n} value {}", show_value(values, value)),
        Entry::Msg { src, dest, kind, ballot, value, other } => {
            let mut s = format!("n{src} -> n{dest} {}", kind.name());
            if let Some(b) = ballot {
                let _ = write!(s, " {b}");
            }
            match (kind, other) {
                (MsgKind::Promise, Some(b)) => {
                    let _ = write!(s, " accepted {b}");
                }
                (MsgKind::Promise, None) => s.push_str(" accepted none"),
                (MsgKind::Nack, Some(b)) => {
                    let _ = write!(s, " promised {b}");
                }
                _ => {}
            }
            if let Some(v) = value {
                let _ = write!(s, " value {}", show_value(values, v));
            }
            s
        }
    }
}
