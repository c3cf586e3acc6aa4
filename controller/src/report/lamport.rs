//! An instance's messages as an SVG Lamport diagram: a vertical line per node, time going
//! down (by order of events, so that a burst stays readable), each message an arrow from its
//! send to its receipt labelled with its type, ballot and value; a lost one ends in a cross.
//! Learns, client ops, faults and processes are marked in place.

use crate::inspect::diagram::describe;
use crate::inspect::timeline::Item;
use std::fmt::Write;
use synod_checker::history::Event;

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

pub fn render(items: &[Item], nodes: &[u64]) -> String {
    // Rows: every send, receipt, drop and event, in time order.
    let mut points: Vec<(u64, usize, u8)> = Vec::new(); // (t, item index, 0 send / 1 recv / 2 drop / 3 event)
    for (i, item) in items.iter().enumerate() {
        match item {
            Item::Message(m) => {
                points.push((m.t, i, 0));
                if let Some(&r) = m.recv.first() {
                    points.push((r, i, 1));
                }
                if let Some((t, _)) = &m.drop {
                    points.push((*t, i, 2));
                }
            }
            Item::Event(e) => points.push((e.t(), i, 3)),
        }
    }
    points.sort_by_key(|&(t, i, k)| (t, k, i));
    let truncated = points.len() > MAX_ROWS;
    points.truncate(MAX_ROWS);
    let row_of = |i: usize, k: u8| points.iter().position(|&(_, j, kk)| j == i && kk == k);
    let x = |n: u64| nodes.iter().position(|&m| m == n).map(|p| LEFT + p * COL_W + COL_W / 2);
    let y = |row: usize| TOP + row * ROW_H;
    // Room on the right for the labels of the last node's events.
    let width = LEFT + nodes.len() * COL_W + 220;
    let height = TOP + (points.len() + 2) * ROW_H;
    let t0 = points.first().map(|p| p.0).unwrap_or(0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="lamport" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">"#
    );
    s.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker></defs>"##);
    for &n in nodes {
        let cx = x(n).expect("node");
        let _ = write!(s, r##"<text x="{cx}" y="20" text-anchor="middle" font-weight="bold">n{n}</text>"##);
        let _ = write!(s, r##"<line x1="{cx}" y1="28" x2="{cx}" y2="{}" stroke="#bbb"/>"##, height - 10);
    }
    for (row, &(t, i, kind)) in points.iter().enumerate() {
        let ry = y(row);
        if kind == 0 || row % 5 == 0 {
            let _ = write!(
                s,
                r##"<text x="4" y="{}" fill="#888">{:.1}ms</text>"##,
                ry + 4,
                (t - t0) as f64 / 1000.0
            );
        }
        match (&items[i], kind) {
            (Item::Message(m), 0) => {
                let (Some(x1), Some(x2)) = (x(m.src), x(m.dest)) else { continue };
                let label = esc(&describe(&m.body));
                if m.src == m.dest {
                    let _ = write!(
                        s,
                        r##"<circle cx="{x1}" cy="{ry}" r="3" fill="#333"/><text x="{}" y="{}">{label} (self)</text>"##,
                        x1 + 6,
                        ry + 4
                    );
                    continue;
                }
                let end_row = row_of(i, 1).or_else(|| row_of(i, 2)).unwrap_or(row);
                let (x2, y2) = if m.drop.is_some() { ((x1 + x2) / 2, y(end_row)) } else { (x2, y(end_row)) };
                let color = if m.drop.is_some() { "#c00" } else { "#333" };
                let marker = if m.drop.is_some() { "" } else { r#" marker-end="url(#arrow)""# };
                let _ = write!(
                    s,
                    r##"<line x1="{x1}" y1="{ry}" x2="{x2}" y2="{y2}" stroke="{color}"{marker}/>"##
                );
                if let Some((_, reason)) = &m.drop {
                    let _ = write!(
                        s,
                        r##"<text x="{x2}" y="{}" fill="#c00" text-anchor="middle" font-weight="bold">x {}</text>"##,
                        y2 + 4,
                        esc(reason)
                    );
                }
                let lx = (x1 + x2) / 2;
                let _ = write!(
                    s,
                    r##"<text x="{lx}" y="{}" text-anchor="middle" fill="{color}">{label}</text>"##,
                    ry - 3
                );
            }
            (Item::Event(e), 3) => {
                if let Event::Nemesis(n) = e {
                    let nodes_txt =
                        n.node_ids().iter().map(|n| format!("n{n}")).collect::<Vec<_>>().join(",");
                    let _ = write!(
                        s,
                        r##"<line x1="{LEFT}" y1="{ry}" x2="{}" y2="{ry}" stroke="#e08000" stroke-dasharray="4 3"/><text x="{}" y="{}" fill="#e08000">{} {}</text>"##,
                        width - 220,
                        LEFT + 4,
                        ry - 3,
                        esc(&n.action),
                        nodes_txt
                    );
                    continue;
                }
                let Some(cx) = e.node().and_then(x) else { continue };
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
                    s,
                    r##"<rect x="{}" y="{}" width="8" height="8" fill="{color}"/><text x="{}" y="{}" fill="{color}">{}</text>"##,
                    cx - 4,
                    ry - 4,
                    cx + 7,
                    ry + 4,
                    esc(&text)
                );
            }
            _ => {}
        }
    }
    if truncated {
        let _ =
            write!(s, r##"<text x="{LEFT}" y="{}" fill="#888">(later events left out)</text>"##, height - 8);
    }
    s.push_str("</svg>");
    s
}
