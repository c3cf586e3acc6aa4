//! Calm and fault windows, from the `nemesis` events: the one definition, used by the
//! checker (which times ops and decisions against it) and by `synod report` (which shades it
//! on its charts).
//!
//! The history records nemesis *actions*, not windows, so [`FaultState`] keeps the set of
//! faults in force and calls the time "fault" while that set is non-empty. The rule, by
//! action name (lower-cased, `_` read as `-`), written for histories of any tool:
//!
//! | action | effect |
//! | --- | --- |
//! | `heal-all`, `calm`, `final`, `recover`, `reset` | ends every fault |
//! | `heal` | ends the partition (other network faults go on) |
//! | `restart`, `start`, `revive` | ends `kill` for the listed nodes (every kill if the line has no `nodes`, or if the kill it ends named none) |
//! | `cont`, `resume`, `continue`, `unpause` | ends `stop`/`pause` for the listed nodes (likewise) |
//! | `kill`, `kill-all`, `crash`, `power-loss`, `power-loss-all` | the listed nodes are down (all if the line has no `nodes`) |
//! | `stop`, `pause` | the listed nodes are paused (all if the line has no `nodes`) |
//!
//! A line with no `nodes` field acts on every node; a line with `"nodes": []` acts on none
//! (synod writes that when the action found nobody in the state it needs, with the nodes the
//! schedule named in `targets`).
//! | `X-end`, `X-off`, `X-stop`, `end-X`, `no-X` | ends network fault `X` |
//! | `note`, `info`, `log`, `phase`, `noop` | nothing |
//! | `drop-message` | a fault of an instant (one message lost): no window, but it overlaps what is in flight |
//! | anything else (`partition`, `loss`, `delay`, `duplicate`, `reorder`, `crash-point`, `hold`, ...) | starts the network fault named by the action |
//!
//! Each fault in force is one [`Window`] when it ends: `loss`, `partition` (network faults,
//! labelled by name), `n2 down`, `n3 paused` (process faults; `all down` when no node was
//! named).
//!
//! An op or a decision is counted in the fault window if a fault was in force at any moment
//! of its interval: when it began, or a fault started before it ended. That is checked in
//! O(1) by remembering, at the start, whether a fault was active and how many faults had
//! started so far ([`FaultMark`]).

/// What [`FaultState::mark`] remembers of the moment an op or a decision began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultMark {
    active: bool,
    starts: u64,
}

/// One fault, from when it started to when it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub from_us: u64,
    pub to_us: u64,
    /// `loss`, `partition`, `n2 down`, `n3 paused`, ...
    pub label: String,
    /// A network fault (as opposed to a node down or paused).
    pub network: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Fault {
    Network(String),
    /// `None`: every node (an action that named none).
    Down(Option<u64>),
    Paused(Option<u64>),
}

impl Fault {
    fn label(&self) -> String {
        let who = |n: &Option<u64>| n.map_or("all".to_string(), |n| format!("n{n}"));
        match self {
            Fault::Network(name) => name.clone(),
            Fault::Down(n) => format!("{} down", who(n)),
            Fault::Paused(n) => format!("{} paused", who(n)),
        }
    }
}

/// The faults in force, fed one nemesis action at a time.
#[derive(Debug, Default)]
pub struct FaultState {
    open: Vec<(Fault, u64)>,
    starts: u64,
    active_since: Option<u64>,
    /// Times the state went from calm to fault.
    pub windows: u64,
    /// Time spent with some fault in force.
    pub fault_time_us: u64,
    pub nemesis_events: u64,
}

impl FaultState {
    pub fn active(&self) -> bool {
        !self.open.is_empty()
    }

    pub fn mark(&self) -> FaultMark {
        FaultMark { active: self.active(), starts: self.starts }
    }

    /// Whether a fault was in force at any moment since `since` was taken.
    pub fn overlapped(&self, since: FaultMark) -> bool {
        since.active || self.starts > since.starts
    }

    /// Applies a recorded nemesis event; the faults it ended are pushed to `ended`.
    pub fn apply_event(&mut self, e: &super::Nemesis<'_>, ended: &mut Vec<Window>) {
        self.apply(e.t, &e.action, e.nodes.as_deref(), ended);
    }

    /// Applies the action at `t` on `nodes` (`None`: the line names no nodes, so every
    /// node); the faults it ended are pushed to `ended`.
    pub fn apply(&mut self, t: u64, action: &str, nodes: Option<&[u64]>, ended: &mut Vec<Window>) {
        self.nemesis_events += 1;
        let was = self.active();
        let action = action.to_ascii_lowercase().replace('_', "-");
        let targets = |nodes: Option<&[u64]>| -> Vec<Option<u64>> {
            match nodes {
                None => vec![None],
                Some(list) => list.iter().map(|&n| Some(n)).collect(),
            }
        };
        let listed = |every: bool, n: &Option<u64>| {
            every || n.is_none() || n.is_some_and(|n| nodes.is_some_and(|l| l.contains(&n)))
        };
        match action.as_str() {
            "heal-all" | "calm" | "final" | "recover" | "reset" => self.end(t, ended, |_| true),
            // Jepsen's heal: the partition ends; loss, delay and the like go on.
            "heal" => self.end(t, ended, |f| matches!(f, Fault::Network(n) if n == "partition")),
            "restart" | "start" | "revive" => {
                let every = nodes.is_none();
                self.end(t, ended, |f| matches!(f, Fault::Down(n) if listed(every, n)));
            }
            "cont" | "resume" | "continue" | "unpause" => {
                let every = nodes.is_none();
                self.end(t, ended, |f| matches!(f, Fault::Paused(n) if listed(every, n)));
            }
            "kill" | "kill-all" | "crash" | "power-loss" | "power-loss-all" => {
                self.starts += 1;
                targets(nodes).into_iter().for_each(|n| self.start(t, Fault::Down(n)));
            }
            "stop" | "pause" => {
                self.starts += 1;
                targets(nodes).into_iter().for_each(|n| self.start(t, Fault::Paused(n)));
            }
            "note" | "info" | "log" | "phase" | "noop" => {}
            // A single lost message: a fault of an instant, which overlaps what is in flight.
            "drop-message" => self.starts += 1,
            other => match ended_network_fault(other) {
                Some(base) => self.end(t, ended, |f| matches!(f, Fault::Network(n) if n == base)),
                None => {
                    self.starts += 1;
                    self.start(t, Fault::Network(other.to_string()));
                }
            },
        }
        match (was, self.active()) {
            (false, true) => {
                self.windows += 1;
                self.active_since = Some(t);
            }
            (true, false) => self.close(t),
            _ => {}
        }
    }

    fn start(&mut self, t: u64, fault: Fault) {
        if !self.open.iter().any(|(f, _)| *f == fault) {
            self.open.push((fault, t));
        }
    }

    fn end(&mut self, t: u64, ended: &mut Vec<Window>, which: impl Fn(&Fault) -> bool) {
        self.open.retain(|(fault, from_us)| {
            if !which(fault) {
                return true;
            }
            let network = matches!(fault, Fault::Network(_));
            ended.push(Window { from_us: *from_us, to_us: t, label: fault.label(), network });
            false
        });
    }

    fn close(&mut self, t: u64) {
        if let Some(since) = self.active_since.take() {
            self.fault_time_us += t.saturating_sub(since);
        }
    }

    /// The history ended at `t`: what is still in force ends there.
    pub fn finish(&mut self, t: u64, ended: &mut Vec<Window>) {
        self.close(t);
        self.end(t, ended, |_| true);
    }
}

fn ended_network_fault(action: &str) -> Option<&str> {
    for suffix in ["-end", "-off", "-stop"] {
        if let Some(base) = action.strip_suffix(suffix) {
            return Some(base);
        }
    }
    for prefix in ["end-", "no-"] {
        if let Some(base) = action.strip_prefix(prefix) {
            return Some(base);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `nodes` as a line lists them (an empty list: the line has no `nodes` field).
    fn apply(f: &mut FaultState, t: u64, action: &str, nodes: &[u64]) -> Vec<Window> {
        let mut ended = Vec::new();
        f.apply(t, action, (!nodes.is_empty()).then_some(nodes), &mut ended);
        ended
    }

    #[test]
    fn windows_follow_start_and_end_actions() {
        let mut f = FaultState::default();
        let m0 = f.mark();
        apply(&mut f, 10, "partition", &[1, 2]);
        assert!(f.active());
        assert!(f.overlapped(m0));
        apply(&mut f, 20, "kill", &[3]);
        apply(&mut f, 30, "heal", &[]);
        assert!(f.active(), "n3 still down");
        apply(&mut f, 40, "restart", &[3]);
        assert!(!f.active());
        let m1 = f.mark();
        assert!(!f.overlapped(m1));
        apply(&mut f, 50, "loss", &[]);
        apply(&mut f, 55, "loss-off", &[]);
        assert!(!f.active());
        apply(&mut f, 60, "pause", &[2]);
        apply(&mut f, 70, "heal-all", &[]);
        f.finish(100, &mut Vec::new());
        assert_eq!(f.windows, 3);
        assert_eq!(f.fault_time_us, 30 + 5 + 10);
        assert!(f.overlapped(m1));
    }

    /// A power loss is a kill with lost writes: its window ends with the restart, never
    /// taken for a network fault that nothing ends.
    #[test]
    fn power_losses_are_windows_like_kills() {
        let mut f = FaultState::default();
        apply(&mut f, 10, "power-loss", &[2]);
        assert!(f.active());
        apply(&mut f, 20, "restart", &[2]);
        assert!(!f.active(), "the restart ends n2's power loss");
        apply(&mut f, 30, "power-loss-all", &[1, 2, 3]);
        apply(&mut f, 40, "restart", &[1]);
        assert!(f.active(), "n2 and n3 are still down: a listed -all ends node by node");
        apply(&mut f, 45, "restart", &[2, 3]);
        assert!(!f.active());
        apply(&mut f, 50, "kill-all", &[]);
        apply(&mut f, 55, "restart", &[4]);
        assert!(!f.active(), "a restart ends a kill that named no node");
        f.finish(60, &mut Vec::new());
        assert_eq!((f.windows, f.fault_time_us), (3, 10 + 15 + 5));
    }

    #[test]
    fn heal_ends_the_partition_but_not_loss() {
        let mut f = FaultState::default();
        apply(&mut f, 10, "loss", &[]);
        apply(&mut f, 20, "partition", &[]);
        apply(&mut f, 30, "heal", &[]);
        assert!(f.active(), "loss goes on");
        apply(&mut f, 40, "loss-off", &[]);
        assert!(!f.active());
    }

    /// The windows the report shades: one per fault, labelled, ended by the action that
    /// ends it or by the end of the history.
    #[test]
    fn each_fault_is_one_labelled_window() {
        let mut f = FaultState::default();
        let mut out = Vec::new();
        f.apply(10, "loss", None, &mut out);
        f.apply(20, "kill", Some(&[2]), &mut out);
        f.apply(30, "loss-off", None, &mut out);
        f.apply(40, "restart", Some(&[2]), &mut out);
        f.apply(50, "partition", None, &mut out);
        f.apply(55, "power-loss", Some(&[3]), &mut out);
        f.apply(57, "stop", None, &mut out);
        f.apply(60, "heal-all", None, &mut out);
        f.apply(70, "delay", None, &mut out);
        f.finish(80, &mut out);
        let got: Vec<(u64, u64, &str, bool)> =
            out.iter().map(|w| (w.from_us, w.to_us, w.label.as_str(), w.network)).collect();
        assert_eq!(
            got,
            vec![
                (10, 30, "loss", true),
                (20, 40, "n2 down", false),
                (50, 60, "partition", true),
                (55, 60, "n3 down", false),
                (57, 60, "all paused", false),
                (70, 80, "delay", true),
            ]
        );
        assert!(!f.active());
    }

    /// `"nodes": []` acts on nobody (what synod writes when the state left no target): it
    /// neither opens an "all down" window nor ends anyone's.
    #[test]
    fn an_empty_node_list_acts_on_nobody() {
        let mut f = FaultState::default();
        let mut out = Vec::new();
        f.apply(10, "kill", Some(&[]), &mut out);
        assert!(!f.active(), "a kill of nobody is no fault");
        f.apply(20, "kill", Some(&[1, 4]), &mut out);
        f.apply(30, "restart", Some(&[]), &mut out);
        assert!(f.active() && out.is_empty(), "a restart of nobody ends nothing");
        f.apply(40, "restart", Some(&[1]), &mut out);
        f.apply(50, "restart", Some(&[4]), &mut out);
        assert!(!f.active());
        let got: Vec<(u64, u64, &str)> = out.iter().map(|w| (w.from_us, w.to_us, w.label.as_str())).collect();
        assert_eq!(got, vec![(20, 40, "n1 down"), (20, 50, "n4 down")]);
    }
}
