//! A text Lamport diagram: one column per node, time going down, one row per message (an
//! arrow from sender to receiver, labelled with its type, ballot and value), and the
//! client's ops, the learns, the faults and the processes marked in place. A node's column
//! is `|` while it runs, `:` while it is paused and blank while it is down. It fits 100
//! columns for up to seven nodes.

use super::timeline::{Item, Message};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

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

    fn event(&mut self, e: &Value) {
        let t = e["t"].as_u64().unwrap_or(0);
        let kind = e["type"].as_str().unwrap_or("");
        let node = e["node"].as_u64();
        match kind {
            "nemesis" => {
                let nodes: Vec<u64> = e["nodes"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_u64).collect())
                    .unwrap_or_default();
                let action = e["action"].as_str().unwrap_or("?");
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
                match action {
                    "kill" | "kill-all" | "power-loss" | "power-loss-all" => nodes.iter().for_each(|&n| {
                        self.life.insert(n, Life::Down);
                    }),
                    "stop" => nodes.iter().for_each(|&n| {
                        self.life.insert(n, Life::Paused);
                    }),
                    "cont" => nodes.iter().for_each(|&n| {
                        self.life.insert(n, Life::Up);
                    }),
                    "heal-all" => {
                        for n in e["resumed"].as_array().into_iter().flatten().filter_map(Value::as_u64) {
                            self.life.insert(n, Life::Up);
                        }
                    }
                    _ => {}
                }
            }
            _ => {
                let Some(c) = node.and_then(|n| self.center(n)) else { return };
                let (marker, text) = match kind {
                    "invoke" => ('*', format!("invoke op{} {}", e["op"], short(&e["value"]))),
                    "ok" => ('*', format!("ok op{} {}", e["op"], short(&e["value"]))),
                    "fail" | "info" => {
                        ('*', format!("{kind} op{} {}", e["op"], e["error"].as_str().unwrap_or("")))
                    }
                    "learn" => ('L', format!("learn {}", short(&e["value"]))),
                    "process" => match e["event"].as_str() {
                        Some("up") => ('^', format!("up pid {}", e["pid"])),
                        _ => ('v', format!("exit ({})", e["status"].as_str().unwrap_or(""))),
                    },
                    "discarded" => ('#', format!("discarded {}", e["body_type"].as_str().unwrap_or(""))),
                    other => ('*', other.to_string()),
                };
                if kind == "process" {
                    let n = node.expect("node");
                    let life = if e["event"] == "up" { Life::Up } else { Life::Down };
                    self.life.insert(n, life);
                }
                let mut row = self.row(Some(t));
                Self::label(&mut row, c, marker, &text);
                self.emit(row);
            }
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

fn ballot(v: &Value) -> String {
    match v.as_array() {
        Some(a) if a.len() == 2 => format!("[{},{}]", a[0], a[1]),
        _ => v.to_string(),
    }
}

fn short(v: &Value) -> String {
    let s = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    if s.chars().count() > 18 {
        format!("\"{}~\"", s.chars().take(17).collect::<String>())
    } else {
        format!("\"{s}\"")
    }
}

/// `prepare [3,1]`, `promise [3,1] acc [2,2] "v"`, `nack [3,1] < [4,2]`, ...
pub fn describe(body: &Value) -> String {
    let kind = body["type"].as_str().unwrap_or("?");
    match kind {
        "prepare" => format!("prepare {}", ballot(&body["ballot"])),
        "promise" => match body.get("accepted").filter(|a| !a.is_null()) {
            Some(a) => format!(
                "promise {} acc {} {}",
                ballot(&body["ballot"]),
                ballot(&a["ballot"]),
                short(&a["value"])
            ),
            None => format!("promise {}", ballot(&body["ballot"])),
        },
        "nack" => format!("nack {} < {}", ballot(&body["ballot"]), ballot(&body["promised"])),
        "accept" | "accepted" => format!("{kind} {} {}", ballot(&body["ballot"]), short(&body["value"])),
        "decided" => format!("decided {}", short(&body["value"])),
        other => other.to_string(),
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

    #[test]
    fn message_labels_name_type_ballot_and_value() {
        let v: Value = serde_json::from_str(
            r#"{"type":"promise","instance":1,"ballot":[3,1],"accepted":{"ballot":[2,2],"value":"x"}}"#,
        )
        .unwrap();
        assert_eq!(describe(&v), "promise [3,1] acc [2,2] \"x\"");
        let v: Value =
            serde_json::from_str(r#"{"type":"nack","instance":1,"ballot":[3,1],"promised":[4,2]}"#).unwrap();
        assert_eq!(describe(&v), "nack [3,1] < [4,2]");
    }
}
