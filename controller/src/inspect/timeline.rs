//! Reading a history for `synod show`: the events of one instance, or every event, within a
//! time window and for some nodes. One pass through the history schema's reader
//! ([`Events`]); what is kept is what will be shown (plus the nemesis and process events,
//! which are few), owned, as typed events.
//!
//! A line the schema cannot read is reported (file, line number, why) and skipped: one bad
//! line must not hide a run's diagram. An event of a type the schema does not know keeps only
//! its type and time ([`Event::Unknown`]), so the filters see no node or instance on it: it
//! shows only when neither `--instance` nor `--nodes` narrows what is shown.

use anyhow::Result;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use synod_checker::history::{Body, Event, Events, ReadError};

/// What to keep.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub instance: Option<u64>,
    /// Several instances at once (when `instance` is none); empty: no such filter.
    pub instances: BTreeSet<u64>,
    pub from_us: Option<u64>,
    pub to_us: Option<u64>,
    /// Empty: every node.
    pub nodes: BTreeSet<u64>,
}

impl Filter {
    /// Whether an event about `instance` (none: about no instance) passes.
    pub(super) fn instance_ok(&self, instance: Option<u64>) -> bool {
        match self.instance {
            Some(i) => instance == Some(i),
            None => self.instances.is_empty() || instance.is_some_and(|i| self.instances.contains(&i)),
        }
    }

    pub(super) fn in_time(&self, t: u64) -> bool {
        self.from_us.is_none_or(|f| t >= f) && self.to_us.is_none_or(|to| t <= to)
    }

    /// Whether an event about `node` (none: about no node, or a field that is not a node
    /// id) passes the node filter.
    pub(super) fn node_ok(&self, node: Option<u64>) -> bool {
        self.nodes.is_empty() || node.is_some_and(|n| self.nodes.contains(&n))
    }
}

/// A message with its fate.
#[derive(Debug, Clone)]
pub struct Message {
    pub t: u64,
    pub src: u64,
    pub dest: u64,
    pub body: Body<'static>,
    pub recv: Vec<u64>,
    pub drop: Option<(u64, String)>,
}

#[derive(Debug, Clone)]
pub enum Item {
    Message(Message),
    /// Any other event, as recorded.
    Event(Event<'static>),
}

impl Item {
    pub fn t(&self) -> u64 {
        match self {
            Item::Message(m) => m.t,
            Item::Event(e) => e.t(),
        }
    }
}

/// What `read` says of a line it skipped: the reader's `file:line: reason`, and that it was
/// skipped.
pub fn skipped(e: &ReadError) -> String {
    format!("{e}, skipped")
}

/// What `read` says of a history that ends early (a writer stopped mid-line, or a
/// compressed stream without its end): `line` is the last line read.
pub fn cut_short(path: &Path, line: u64) -> String {
    format!(
        "{}: the history is cut short at line {line} (its writer was stopped); a partial last line is skipped",
        path.display()
    )
}

/// The events of the history at `path` that pass `filter`, in time order, and what was
/// skipped: lines that do not parse (with their file and line number) and a torn end.
pub fn read(path: &Path, filter: &Filter) -> Result<(Vec<Item>, Vec<String>)> {
    let mut events = Events::open(path)?;
    let mut reading = Reading::default();
    let mut bad = Vec::new();
    while let Some(ev) = events.next() {
        match ev {
            Ok(e) => reading.take(e, filter),
            Err(e @ ReadError::Malformed { .. }) => bad.push(skipped(&e)),
            Err(e) => return Err(e.into()),
        }
    }
    if events.torn() {
        bad.push(cut_short(events.path(), events.line()));
    }
    Ok((reading.finish(filter), bad))
}

/// What [`read`] has kept so far.
#[derive(Default)]
struct Reading {
    /// The messages and events that pass the filter.
    items: Vec<Item>,
    /// Where each message kept is in `items`, by message id, for its receipt and drop.
    msgs: HashMap<u64, usize>,
    /// Faults, processes, phases and the run's start and end: kept once it is known which
    /// span the items cover.
    others: Vec<Event<'static>>,
}

impl Reading {
    fn take(&mut self, e: Event<'_>, filter: &Filter) {
        let t = e.t();
        match e {
            Event::Send(s) => {
                let instance_ok = filter.instance_ok(s.body.instance());
                let nodes_ok = filter.node_ok(Some(s.src)) || filter.node_ok(Some(s.dest));
                if instance_ok && nodes_ok && filter.in_time(t) {
                    self.msgs.insert(s.msg.unwrap_or(0), self.items.len());
                    self.items.push(Item::Message(Message {
                        t,
                        src: s.src,
                        dest: s.dest,
                        body: s.body.into_owned(),
                        recv: Vec::new(),
                        drop: None,
                    }));
                }
            }
            Event::Recv(r) => {
                if let Some(m) = self.message(r.msg) {
                    m.recv.push(t);
                }
            }
            Event::Drop(d) => {
                if let Some(m) = self.message(d.msg) {
                    m.drop = Some((t, d.reason.into_owned()));
                }
            }
            Event::Nemesis(_) | Event::Process(_) | Event::Phase(_) | Event::Run(_) | Event::End(_) => {
                self.others.push(e.into_owned())
            }
            e => {
                if filter.instance_ok(e.instance()) && filter.node_ok(e.node()) && filter.in_time(t) {
                    self.items.push(Item::Event(e.into_owned()));
                }
            }
        }
    }

    /// The kept message with this id, if any.
    fn message(&mut self, msg: Option<u64>) -> Option<&mut Message> {
        match msg.and_then(|id| self.msgs.get(&id)).map(|&at| &mut self.items[at]) {
            Some(Item::Message(m)) => Some(m),
            _ => None,
        }
    }

    /// The items, with the faults and processes within the window of what is shown (or the
    /// filter's), in time order.
    fn finish(mut self, filter: &Filter) -> Vec<Item> {
        let lo = filter.from_us.or_else(|| self.items.iter().map(Item::t).min()).unwrap_or(0);
        let hi = filter.to_us.or_else(|| self.items.iter().map(Item::t).max()).unwrap_or(u64::MAX);
        for e in self.others {
            let t = e.t();
            let nodes_ok = match &e {
                Event::Process(p) => filter.node_ok(Some(p.node)),
                _ => true,
            };
            let keep = match &e {
                Event::Run(_) | Event::End(_) => {
                    filter.instance.is_none() && filter.instances.is_empty() && filter.in_time(t)
                }
                _ => (lo..=hi).contains(&t),
            };
            if keep && nodes_ok {
                self.items.push(Item::Event(e));
            }
        }
        self.items.sort_by_key(Item::t);
        self.items
    }
}

/// The instance an item belongs to (`None` for faults, processes and the like).
pub fn instance_of(item: &Item) -> Option<u64> {
    match item {
        Item::Message(m) => m.body.instance(),
        Item::Event(e) => e.instance(),
    }
}

/// The items of one instance out of a mixed list, with the faults and processes within its
/// time span.
pub fn split_instance(items: &[Item], instance: u64) -> Vec<Item> {
    let own: Vec<&Item> = items.iter().filter(|i| instance_of(i) == Some(instance)).collect();
    let (Some(lo), Some(hi)) = (own.iter().map(|i| i.t()).min(), own.iter().map(|i| i.t()).max()) else {
        return Vec::new();
    };
    items
        .iter()
        .filter(|i| match instance_of(i) {
            Some(n) => n == instance,
            None => (lo..=hi).contains(&i.t()),
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A history with a line that is not JSON, one that misses a field the schema needs, an
    /// event of a type it does not know, and a torn end.
    const HISTORY: &str = r#"{"type":"run","t":0,"run_id":"t","nodes":[1,2]}
{"type":"invoke","t":10,"op":1,"node":1,"instance":1,"value":"a"}
not json
{"type":"invoke","t":11,"node":2,"instance":1,"value":"b"}
{"type":"send","t":20,"msg":1,"src":1,"dest":2,"body":{"type":"prepare","instance":1,"ballot":[1,1]}}
{"type":"drop","t":21,"msg":1,"reason":"loss"}
{"type":"snapshot","t":30,"node":2,"instance":1}
{"type":"learn","t":40,"node":2,"instance":1,"value":"a"}
{"type":"learn","t":50,"node":2,"instan"#;

    fn history(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("synod-timeline-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        std::fs::write(&path, HISTORY).unwrap();
        path
    }

    #[test]
    fn bad_lines_are_reported_by_file_and_line_and_skipped() {
        let path = history("bad");
        let (items, bad) = read(&path, &Filter::default()).unwrap();
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        let p = path.display().to_string();
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert!(
            bad[0].starts_with(&format!("{p}:3: not valid JSON")) && bad[0].ends_with(", skipped"),
            "{bad:?}"
        );
        assert_eq!(bad[1], format!("{p}:4: `invoke` event lacks field `op`, skipped"));
        assert!(bad[2].starts_with(&format!("{p}: the history is cut short at line 9")), "{bad:?}");
        // The rest is all there: the run, one invoke, the lost message, the unknown event,
        // the learn.
        let kinds: Vec<&str> = items
            .iter()
            .map(|i| match i {
                Item::Message(_) => "message",
                Item::Event(e) => e.kind(),
            })
            .collect();
        assert_eq!(kinds, ["run", "invoke", "message", "snapshot", "learn"]);
        let Item::Message(m) = &items[2] else { unreachable!() };
        assert_eq!((m.src, m.dest, m.drop.clone()), (1, 2, Some((21, "loss".to_string()))));
        assert_eq!(instance_of(&items[2]), Some(1));
    }

    /// The schema keeps only an unknown event's type and time: asked for an instance or a
    /// node, it is left out.
    #[test]
    fn unknown_events_show_only_unfiltered() {
        let path = history("unknown");
        let only = |filter: Filter| -> Vec<String> {
            let (items, _) = read(&path, &filter).unwrap();
            items
                .iter()
                .map(|i| format!("{}@{}", matches!(i, Item::Event(e) if e.kind() == "snapshot"), i.t()))
                .collect()
        };
        let unfiltered = only(Filter::default());
        let by_instance = only(Filter { instance: Some(1), ..Filter::default() });
        let by_node = only(Filter { nodes: [2].into(), ..Filter::default() });
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        assert!(unfiltered.contains(&"true@30".to_string()), "{unfiltered:?}");
        assert!(!by_instance.iter().any(|i| i.starts_with("true")), "{by_instance:?}");
        assert!(by_instance.contains(&"false@40".to_string()), "{by_instance:?}");
        assert!(!by_node.iter().any(|i| i.starts_with("true")), "{by_node:?}");
        assert!(by_node.contains(&"false@40".to_string()), "{by_node:?}");
    }
}
