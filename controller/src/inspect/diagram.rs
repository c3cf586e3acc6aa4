//! A text Lamport diagram: one column per node, time going down, one row per message (an
//! arrow from sender to receiver, labelled with its type, ballot and value), and the
//! client's ops, the learns, the faults and the processes marked in place. A node's column
//! is `|` while it runs, `:` while it is paused and blank while it is down. It fits 100
//! columns for up to seven nodes.

use super::timeline::{Item, Message};
use std::collections::BTreeMap;
use std::fmt::Write;
use synod_checker::history::{Body, Event, Msg, Nemesis};
use synod_checker::Ballot;

const TIME_W: usize = 10;
const TOTAL_W: usize = 100;

#[derive(Clone, Copy, PartialEq)]
enum Life {
    Up,
    Paused,
    Down,
}

struct Canvas {
    nodes: Vec<u64>,
    col_w: usize,
    life: BTreeMap<u64, Life>,
    t0: u64,
    out: String,
}

impl Canvas {
    fn center(&self, node: u64) -> Option<usize> {
        self.nodes.iter().position(|&n| n == node).map(|i| TIME_W + i * self.col_w + self.col_w / 2)
    }

    fn width(&self) -> usize {
        TIME_W + self.nodes.len() * self.col_w
    }

    /// A row with the node columns drawn, and the time in the margin.
    fn row(&self, t: Option<u64>) -> Vec<char> {
        let mut row = vec![' '; self.width()];
        if let Some(t) = t {
            let label = format!("{:>9.3}", t.saturating_sub(self.t0) as f64 / 1000.0);
            for (i, c) in label.chars().take(TIME_W - 1).enumerate() {
                row[i] = c;
            }
        }
        for &n in &self.nodes {
            let c = self.center(n).expect("shown node");
            row[c] = match self.life.get(&n).copied().unwrap_or(Life::Up) {
                Life::Up => '|',
                Life::Paused => ':',
                Life::Down => ' ',
            };
        }
        row
    }

    fn put(row: &mut [char], at: usize, text: &str) {
        for (i, c) in text.chars().enumerate() {
            if at + i < row.len() {
                row[at + i] = c;
            }
        }
    }

    /// `marker` at column `c` with `text` beside it: to the right if it fits, else to the left.
    fn label(row: &mut [char], c: usize, marker: char, text: &str) {
        let len = text.chars().count();
        row[c] = marker;
        if c + 2 + len <= row.len() || c < len + 2 {
            Self::put(row, c + 2, text);
        } else {
            Self::put(row, c - 1 - len, text);
        }
    }

    fn emit(&mut self, row: Vec<char>) {
        let line: String = row.into_iter().collect();
        let _ = writeln!(self.out, "{}", line.trim_end());
    }

    fn message(&mut self, m: &Message) {
        let (Some(s), Some(d)) = (self.center(m.src), self.center(m.dest)) else { return };
        let mut row = self.row(Some(m.t));
        let fate = match (&m.drop, m.recv.len()) {
            (Some((_, reason)), _) => format!(" LOST:{reason}"),
            (None, 0) => " (in flight)".to_string(),
            (None, 1) => delay(m.t, m.recv[0]),
            (None, n) => format!(" x{n}{}", delay(m.t, m.recv[0])),
        };
        let label = format!("{}{fate}", describe(&m.body));
        if s == d {
            Self::label(&mut row, s, 'o', &format!("{label} (self)"));
        } else {
            let (lo, hi) = (s.min(d), s.max(d));
            for c in row.iter_mut().take(hi).skip(lo + 1) {
                *c = '-';
            }
            row[s] = 'o';
            row[d] = if m.drop.is_some() {
                'x'
            } else if d > s {
                '>'
            } else {
                '<'
            };
            let span = hi - lo - 1;
            let text = format!(" {label} ");
            if text.chars().count() <= span {
                Self::put(&mut row, lo + 1 + (span - text.chars().count()) / 2, &text);
            } else if hi + 2 + label.chars().count() <= row.len() {
                // Too long for the arrow: after its right end,
                Self::put(&mut row, hi + 2, &label);
            } else {
                // or before its left end.
                Self::put(&mut row, lo.saturating_sub(1 + label.chars().count()), &label);
            }
        }
        self.emit(row);
    }

    fn event(&mut self, e: &Event) {
        let t = e.t();
        if let Event::Nemesis(n) = e {
            self.nemesis(t, n);
            return;
        }
        let Some(node) = e.node() else { return };
        let Some(c) = self.center(node) else { return };
        let (marker, text) = match e {
            Event::Invoke(i) => ('*', format!("invoke op{} {}", i.op, short(&i.value))),
            Event::Ok(o) => ('*', format!("ok op{} {}", o.op, short(&o.value))),
            Event::Fail(f) | Event::Info(f) => {
                ('*', format!("{} op{} {}", e.kind(), f.op, f.error.as_deref().unwrap_or("")))
            }
            Event::Learn(l) => ('L', format!("learn {}", short(&l.value))),
            Event::Process(p) if p.event == "up" => ('^', format!("up pid {}", json_u64(p.pid))),
            Event::Process(p) => ('v', format!("exit ({})", p.status.as_deref().unwrap_or(""))),
            Event::Discarded(d) => ('#', format!("discarded {}", d.body_type)),
            other => ('*', other.kind().to_string()),
        };
        if let Event::Process(p) = e {
            let life = if p.event == "up" { Life::Up } else { Life::Down };
            self.life.insert(node, life);
        }
        let mut row = self.row(Some(t));
        Self::label(&mut row, c, marker, &text);
        self.emit(row);
    }

    /// A nemesis action: a row of `~` across every column, and the nodes it takes down,
    /// pauses or brings back.
    fn nemesis(&mut self, t: u64, e: &Nemesis) {
        let nodes = e.node_ids();
        let action = &*e.action;
        let who: Vec<String> = nodes.iter().map(|n| format!("n{n}")).collect();
        let text = format!(" {} {} ", action, who.join(",")).replace("  ", " ");
        let mut row = self.row(Some(t));
        let w = self.width();
        for c in row.iter_mut().take(w).skip(TIME_W) {
            if *c == ' ' {
                *c = '~';
            }
        }
        Self::put(&mut row, TIME_W + 2, &text);
        self.emit(row);
        let life = match action {
            "kill" | "kill-all" | "power-loss" | "power-loss-all" => Life::Down,
            "stop" => Life::Paused,
            "cont" => Life::Up,
            "heal-all" => {
                // The nodes it resumed; those it restarted come back with their `process up`.
                let resumed = e.params.get("resumed").and_then(|v| v.as_array());
                for n in resumed.into_iter().flatten().filter_map(|n| n.as_u64()) {
                    self.life.insert(n, Life::Up);
                }
                return;
            }
            _ => return,
        };
        for &n in nodes {
            self.life.insert(n, life);
        }
    }
}

fn delay(sent: u64, recv: u64) -> String {
    let us = recv.saturating_sub(sent);
    if us >= 1000 {
        format!(" +{:.1}ms", us as f64 / 1000.0)
    } else {
        String::new()
    }
}

/// A pid as the history has it (`null` when the line has none).
fn json_u64(n: Option<u64>) -> String {
    n.map_or_else(|| "null".to_string(), |n| n.to_string())
}

/// A value in quotes, cut to 18 characters (a `~` marks the cut).
fn short(s: &str) -> String {
    if s.chars().count() > 18 {
        format!("\"{}~\"", s.chars().take(17).collect::<String>())
    } else {
        format!("\"{s}\"")
    }
}

/// A ballot, or `null` when there is none (a nack that names no promise).
fn ballot(b: Option<Ballot>) -> String {
    b.map_or_else(|| "null".to_string(), |b| b.to_string())
}

/// `prepare [3,1]`, `promise [3,1] acc [2,2] "v"`, `nack [3,1] < [4,2]`, ...; a body the
/// schema does not interpret by its type (`?` if it has none).
pub fn describe(body: &Body) -> String {
    let Some(msg) = body.paxos() else {
        return body.type_name().map_or_else(|| "?".to_string(), |t| t.into_owned());
    };
    match msg {
        Msg::Prepare { ballot: b, .. } => format!("prepare {b}"),
        Msg::Promise { ballot: b, accepted: Some(a), .. } => {
            format!("promise {b} acc {} {}", a.ballot, short(&a.value))
        }
        Msg::Promise { ballot: b, accepted: None, .. } => format!("promise {b}"),
        Msg::Nack { ballot: b, promised, .. } => format!("nack {b} < {}", ballot(*promised)),
        Msg::Accept { ballot: b, value, .. } | Msg::Accepted { ballot: b, value, .. } => {
            format!("{} {b} {}", msg.type_name(), short(value))
        }
        Msg::Decided { value, .. } => format!("decided {}", short(value)),
        Msg::DecidedOk { .. } => msg.type_name().to_string(),
    }
}

/// The diagram of `items` over `nodes`.
pub fn render(items: &[Item], nodes: &[u64]) -> String {
    let col_w = ((TOTAL_W - TIME_W) / nodes.len().max(1)).max(12);
    let mut canvas = Canvas {
        nodes: nodes.to_vec(),
        col_w,
        life: BTreeMap::new(),
        t0: items.first().map(Item::t).unwrap_or(0),
        out: String::new(),
    };
    let mut header = vec![' '; canvas.width()];
    Canvas::put(&mut header, 0, "     t ms");
    for &n in nodes {
        let name = format!("n{n}");
        let c = canvas.center(n).expect("shown node");
        Canvas::put(&mut header, c.saturating_sub(name.len() / 2), &name);
    }
    canvas.emit(header);
    for item in items {
        match item {
            Item::Message(m) => canvas.message(m),
            Item::Event(e) => canvas.event(e),
        }
    }
    canvas.out
}

#[cfg(test)]
mod tests {
    use super::super::timeline::{read, Filter};
    use super::*;
    use synod_checker::history::{parse_line, AcceptedValue};

    /// A small fixed history: two proposers duel over instance 1, a message is lost, n3 is
    /// killed and restarted, n1 is paused, and instance 2's traffic must not show.
    const HISTORY: &str = r#"{"type":"run","t":0,"run_id":"snap","nodes":[1,2,3]}
{"type":"process","t":10,"node":1,"event":"up","pid":101}
{"type":"invoke","t":1000,"op":1,"node":1,"instance":1,"value":"i1-op1"}
{"type":"invoke","t":1001,"op":2,"node":2,"instance":1,"value":"i1-op2"}
{"type":"send","t":1100,"msg":1,"src":1,"dest":2,"body":{"type":"prepare","instance":1,"ballot":[1,1]}}
{"type":"recv","t":1101,"msg":1}
{"type":"send","t":1200,"msg":2,"src":2,"dest":3,"body":{"type":"prepare","instance":1,"ballot":[1,2]}}
{"type":"drop","t":1200,"msg":2,"reason":"loss"}
{"type":"send","t":1300,"msg":3,"src":2,"dest":1,"body":{"type":"promise","instance":1,"ballot":[1,1],"accepted":null}}
{"type":"recv","t":4300,"msg":3}
{"type":"send","t":1400,"msg":4,"src":3,"dest":3,"body":{"type":"prepare","instance":2,"ballot":[1,3]}}
{"type":"nemesis","t":1500,"action":"kill","nodes":[3]}
{"type":"send","t":1600,"msg":5,"src":1,"dest":3,"body":{"type":"accept","instance":1,"ballot":[1,1],"value":"i1-op1"}}
{"type":"drop","t":1600,"msg":5,"reason":"down"}
{"type":"send","t":1700,"msg":6,"src":2,"dest":1,"body":{"type":"nack","instance":1,"ballot":[1,2],"promised":[1,1]}}
{"type":"recv","t":1701,"msg":6}
{"type":"nemesis","t":1800,"action":"stop","nodes":[1]}
{"type":"send","t":1900,"msg":7,"src":2,"dest":2,"body":{"type":"accepted","instance":1,"ballot":[1,1],"value":"i1-op1"}}
{"type":"recv","t":1901,"msg":7}
{"type":"learn","t":2000,"node":2,"instance":1,"value":"i1-op1"}
{"type":"nemesis","t":2100,"action":"cont","nodes":[1]}
{"type":"process","t":2200,"node":3,"event":"up","pid":303}
{"type":"ok","t":2300,"op":2,"node":2,"instance":1,"value":"i1-op1"}
"#;

    #[test]
    fn instance_diagram_matches_its_snapshot() {
        let dir = std::env::temp_dir().join(format!("synod-diagram-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        std::fs::write(&path, HISTORY).unwrap();
        let (items, bad) = read(&path, &Filter { instance: Some(1), ..Filter::default() }).unwrap();
        assert!(bad.is_empty());
        let text = render(&items, &[1, 2, 3]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(text.lines().all(|l| l.chars().count() <= 100), "wider than 100 columns:\n{text}");
        crate::inspect::assert_snapshot("instance_diagram.txt", &text);
    }

    /// The body of a `send` line, through the schema's parser.
    fn body(line: &str) -> Body<'_> {
        match parse_line(line.as_bytes()).unwrap() {
            Event::Send(s) => s.body,
            other => panic!("not a send: {other:?}"),
        }
    }

    #[test]
    fn message_labels_name_type_ballot_and_value() {
        let promise = Msg::Promise {
            instance: 1,
            ballot: Ballot(3, 1),
            accepted: Some(AcceptedValue { ballot: Ballot(2, 2), value: "x".into() }),
        };
        assert_eq!(describe(&Body::Paxos(promise)), "promise [3,1] acc [2,2] \"x\"");
        let nack = Msg::Nack { instance: 1, ballot: Ballot(3, 1), promised: Some(Ballot(4, 2)) };
        assert_eq!(describe(&Body::Paxos(nack)), "nack [3,1] < [4,2]");
        let nack = Msg::Nack { instance: 1, ballot: Ballot(3, 1), promised: None };
        assert_eq!(describe(&Body::Paxos(nack)), "nack [3,1] < null");
        let long = Msg::Accept { instance: 1, ballot: Ballot(1, 2), value: "0123456789abcdefghij".into() };
        assert_eq!(describe(&Body::Paxos(long)), "accept [1,2] \"0123456789abcdefg~\"");
        assert_eq!(describe(&Body::Paxos(Msg::DecidedOk { instance: 4 })), "decided_ok");
    }

    /// A body the schema does not interpret (a node of your own's message) is labelled by its
    /// type, or `?` without one.
    #[test]
    fn other_bodies_are_labelled_by_their_type() {
        let line = r#"{"type":"send","t":5,"msg":1,"src":1,"dest":2,"body":{"type":"catchup","instance":1,"from":3}}"#;
        let b = body(line);
        assert!(matches!(b, Body::Raw(_)), "{b:?}");
        assert_eq!(describe(&b), "catchup");
        let b = body(r#"{"type":"send","t":5,"msg":1,"src":1,"dest":2,"body":{"instance":1}}"#);
        assert_eq!(describe(&b), "?");
        let b = body(r#"{"type":"send","t":5,"msg":1,"src":1,"dest":2,"body":[1,2]}"#);
        assert_eq!(describe(&b), "?");
        let b = body(
            r#"{"type":"send","t":5,"msg":1,"src":1,"dest":2,"body":{"type":"prepare","instance":1,"ballot":[1,2]}}"#,
        );
        assert_eq!(describe(&b), "prepare [1,2]");
    }
}
