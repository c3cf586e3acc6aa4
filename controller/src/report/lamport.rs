//! An instance's messages as an SVG Lamport diagram: a vertical line per node, time going
//! down (by order of events, so that a burst stays readable), each message an arrow from its
//! send to its receipt labelled with its type, ballot and value; a lost one ends in a cross.
//! Learns, client ops, faults and processes are marked in place.

use crate::inspect::diagram::describe;
use crate::inspect::timeline::{Item, Message};
use std::fmt::Write;
use synod_checker::history::{Event, Nemesis};

const COL_W: usize = 170;
const ROW_H: usize = 18;
const TOP: usize = 40;
const LEFT: usize = 70;
/// Events drawn at most; the rest is left out (and the diagram says so).
pub const MAX_ROWS: usize = 160;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("history fields serialize")
}

/// Which of its item's moments a row draws. The order breaks ties between rows at the same
/// time: sends first, then receipts, drops and other events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Point {
    Send,
    Recv,
    Drop,
    Event,
}

/// The diagram of `items` (one instance's messages and events) with a column per node.
pub fn render(items: &[Item], nodes: &[u64]) -> String {
    let mut points = rows(items);
    let truncated = points.len() > MAX_ROWS;
    points.truncate(MAX_ROWS);
    let mut d = Diagram {
        nodes,
        // Room on the right for the labels of the last node's events.
        width: LEFT + nodes.len() * COL_W + 220,
        height: TOP + (points.len() + 2) * ROW_H,
        points,
        s: String::new(),
    };
    d.columns();
    let t0 = d.points.first().map(|p| p.0).unwrap_or(0);
    for row in 0..d.points.len() {
        let (t, i, point) = d.points[row];
        let ry = y(row);
        if point == Point::Send || row % 5 == 0 {
            let _ = write!(
                d.s,
                r##"<text x="4" y="{}" fill="#888">{:.1}ms</text>"##,
                ry + 4,
                (t - t0) as f64 / 1000.0
            );
        }
        match (&items[i], point) {
            (Item::Message(m), Point::Send) => d.message(row, i, m),
            (Item::Event(Event::Nemesis(n)), Point::Event) => d.nemesis(ry, n),
            (Item::Event(e), Point::Event) => d.node_event(ry, e),
            _ => {}
        }
    }
    if truncated {
        let _ = write!(
            d.s,
            r##"<text x="{LEFT}" y="{}" fill="#888">(later events left out)</text>"##,
            d.height - 8
        );
    }
    d.s.push_str("</svg>");
    d.s
}

/// Rows: every send, receipt, drop and event, in time order: (t, item index, point).
fn rows(items: &[Item]) -> Vec<(u64, usize, Point)> {
    let mut points = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item {
            Item::Message(m) => {
                points.push((m.t, i, Point::Send));
                if let Some(&r) = m.recv.first() {
                    points.push((r, i, Point::Recv));
                }
                if let Some((t, _)) = &m.drop {
                    points.push((*t, i, Point::Drop));
                }
            }
            Item::Event(e) => points.push((e.t(), i, Point::Event)),
        }
    }
    points.sort_by_key(|&(t, i, point)| (t, point, i));
    points
}

fn y(row: usize) -> usize {
    TOP + row * ROW_H
}

/// A diagram being drawn into `s`.
struct Diagram<'a> {
    nodes: &'a [u64],
    points: Vec<(u64, usize, Point)>,
    width: usize,
    height: usize,
    s: String,
}

impl Diagram<'_> {
    /// The middle of node `n`'s column.
    fn x(&self, n: u64) -> Option<usize> {
        self.nodes.iter().position(|&m| m == n).map(|p| LEFT + p * COL_W + COL_W / 2)
    }

    fn row_of(&self, i: usize, point: Point) -> Option<usize> {
        self.points.iter().position(|&(_, j, p)| j == i && p == point)
    }

    /// The SVG's opening, the arrow head, and a named vertical line per node.
    fn columns(&mut self) {
        let (width, height) = (self.width, self.height);
        let _ = write!(
            self.s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="lamport" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">"#
        );
        self.s.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker></defs>"##);
        for &n in self.nodes {
            let cx = self.x(n).expect("node");
            let _ = write!(
                self.s,
                r##"<text x="{cx}" y="20" text-anchor="middle" font-weight="bold">n{n}</text>"##
            );
            let _ =
                write!(self.s, r##"<line x1="{cx}" y1="28" x2="{cx}" y2="{}" stroke="#bbb"/>"##, height - 10);
        }
    }

    /// Message `i`, sent at `row`: an arrow to the row of its receipt, or a red line to a
    /// cross where it was dropped; a message to itself is a dot.
    fn message(&mut self, row: usize, i: usize, m: &Message) {
        let ry = y(row);
        let (Some(x1), Some(x2)) = (self.x(m.src), self.x(m.dest)) else { return };
        let label = esc(&describe(&m.body));
        if m.src == m.dest {
            let _ = write!(
                self.s,
                r##"<circle cx="{x1}" cy="{ry}" r="3" fill="#333"/><text x="{}" y="{}">{label} (self)</text>"##,
                x1 + 6,
                ry + 4
            );
            return;
        }
        let end_row = self.row_of(i, Point::Recv).or_else(|| self.row_of(i, Point::Drop)).unwrap_or(row);
        let (x2, y2) = if m.drop.is_some() { ((x1 + x2) / 2, y(end_row)) } else { (x2, y(end_row)) };
        let color = if m.drop.is_some() { "#c00" } else { "#333" };
        let marker = if m.drop.is_some() { "" } else { r#" marker-end="url(#arrow)""# };
        let _ =
            write!(self.s, r##"<line x1="{x1}" y1="{ry}" x2="{x2}" y2="{y2}" stroke="{color}"{marker}/>"##);
        if let Some((_, reason)) = &m.drop {
            let _ = write!(
                self.s,
                r##"<text x="{x2}" y="{}" fill="#c00" text-anchor="middle" font-weight="bold">x {}</text>"##,
                y2 + 4,
                esc(reason)
            );
        }
        let lx = (x1 + x2) / 2;
        let _ = write!(
            self.s,
            r##"<text x="{lx}" y="{}" text-anchor="middle" fill="{color}">{label}</text>"##,
            ry - 3
        );
    }

    /// A nemesis action: a dashed line across every column, labelled with the action and
    /// its nodes.
    fn nemesis(&mut self, ry: usize, n: &Nemesis<'_>) {
        let nodes_txt = n.node_ids().iter().map(|n| format!("n{n}")).collect::<Vec<_>>().join(",");
        let _ = write!(
            self.s,
            r##"<line x1="{LEFT}" y1="{ry}" x2="{}" y2="{ry}" stroke="#e08000" stroke-dasharray="4 3"/><text x="{}" y="{}" fill="#e08000">{} {}</text>"##,
            self.width - 220,
            LEFT + 4,
            ry - 3,
            esc(&n.action),
            nodes_txt
        );
    }

    /// An event at one node (a learn, a client op, a process event): a square on its column.
    fn node_event(&mut self, ry: usize, e: &Event<'_>) {
        let Some(cx) = e.node().and_then(|n| self.x(n)) else { return };
        // Values as JSON (quoted strings, `null` when absent), as the history has them.
        let (color, text) = match e {
            Event::Learn(l) => ("#070", format!("learn {}", json(&l.value))),
            Event::Invoke(i) => ("#005", format!("invoke op{} {}", i.op, json(&i.value))),
            Event::Ok(o) => ("#070", format!("ok op{} {}", o.op, json(&o.value))),
            Event::Info(f) | Event::Fail(f) => {
                ("#a50", format!("{} op{} {}", e.kind(), f.op, json(&f.error)))
            }
            Event::Process(p) => ("#555", format!("{} pid {}", p.event, json(&p.pid))),
            other => ("#555", other.kind().to_string()),
        };
        let _ = write!(
            self.s,
            r##"<rect x="{}" y="{}" width="8" height="8" fill="{color}"/><text x="{}" y="{}" fill="{color}">{}</text>"##,
            cx - 4,
            ry - 4,
            cx + 7,
            ry + 4,
            esc(&text)
        );
    }
}
