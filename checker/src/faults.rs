//! Calm and fault windows, from the `nemesis` events.
//!
//! The history records nemesis *actions*, not windows, so the checker keeps the set of
//! faults in force and calls the time "fault" while that set is non-empty. The rule, by
//! action name (lower-cased, `_` read as `-`):
//!
//! | action | effect |
//! | --- | --- |
//! | `heal-all`, `calm`, `final`, `recover`, `reset` | ends every fault |
//! | `heal` | ends the partition (other network faults go on) |
//! | `restart`, `start`, `revive` | ends `kill` for the listed nodes (all if none listed) |
//! | `cont`, `resume`, `continue`, `unpause` | ends `stop`/`pause` for the listed nodes (all if none) |
//! | `kill`, `kill-all`, `crash`, `power-loss`, `power-loss-all` | the listed nodes are down (all if none listed, or `-all`) |
//! | `stop`, `pause` | the listed nodes are paused (all if none listed) |
//! | `X-end`, `X-off`, `X-stop`, `end-X`, `no-X` | ends network fault `X` |
//! | `note`, `info`, `log`, `phase`, `noop` | nothing |
//! | `drop-message` | a fault of an instant (one message lost) |
//! | anything else (`partition`, `loss`, `delay`, `duplicate`, `reorder`, ...) | starts network fault named by the action |
//!
//! An op or a decision is counted in the fault window if a fault was in force at any moment
//! of its interval: when it began, or a fault started before it ended. That is checked in
//! O(1) by remembering, at the start, whether a fault was active and how many faults had
//! started so far ([`FaultMark`]).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FaultMark {
    active: bool,
    starts: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Faults {
    network: Vec<String>,
    down: Vec<u64>,
    down_all: bool,
    paused: Vec<u64>,
    paused_all: bool,
    starts: u64,
    active_since: Option<u64>,
    pub windows: u64,
    pub fault_time_us: u64,
    pub nemesis_events: u64,
}

fn add(set: &mut Vec<u64>, nodes: &[u64]) {
    for n in nodes {
        if !set.contains(n) {
            set.push(*n);
        }
    }
}

fn remove(set: &mut Vec<u64>, all: &mut bool, nodes: &[u64]) {
    if nodes.is_empty() || *all {
        // "restart n2" after "kill-all" ends the kill only in part, but the checker cannot
        // know who else is still down without a node list: treat it as the end.
        set.clear();
        *all = false;
    } else {
        set.retain(|n| !nodes.contains(n));
    }
}

impl Faults {
    pub fn active(&self) -> bool {
        !self.network.is_empty()
            || !self.down.is_empty()
            || self.down_all
            || !self.paused.is_empty()
            || self.paused_all
    }

    pub fn mark(&self) -> FaultMark {
        FaultMark { active: self.active(), starts: self.starts }
    }

    /// Whether a fault was in force at any moment since `since` was taken.
    pub fn overlapped(&self, since: FaultMark) -> bool {
        since.active || self.starts > since.starts
    }

    pub fn apply(&mut self, t: u64, action: &str, nodes: &[u64]) {
        self.nemesis_events += 1;
        let was = self.active();
        let action = action.to_ascii_lowercase().replace('_', "-");
        match action.as_str() {
            "heal-all" | "calm" | "final" | "recover" | "reset" => {
                self.network.clear();
                self.down.clear();
                self.down_all = false;
                self.paused.clear();
                self.paused_all = false;
            }
            // Jepsen's heal: the partition ends; loss, delay and the like go on.
            "heal" => self.network.retain(|f| f != "partition"),
            "restart" | "start" | "revive" => remove(&mut self.down, &mut self.down_all, nodes),
            "cont" | "resume" | "continue" | "unpause" => {
                remove(&mut self.paused, &mut self.paused_all, nodes)
            }
            "kill" | "kill-all" | "crash" | "power-loss" | "power-loss-all" => {
                self.starts += 1;
                if nodes.is_empty() || action.ends_with("-all") {
                    self.down_all = true;
                }
                add(&mut self.down, nodes);
            }
            "stop" | "pause" => {
                self.starts += 1;
                if nodes.is_empty() {
                    self.paused_all = true;
                }
                add(&mut self.paused, nodes);
            }
            "note" | "info" | "log" | "phase" | "noop" => {}
            // A single lost message: a fault of an instant, which overlaps what is in flight.
            "drop-message" => self.starts += 1,
            other => {
                if let Some(base) = ended_network_fault(other) {
                    self.network.retain(|f| f != base);
                } else {
                    self.starts += 1;
                    if !self.network.iter().any(|f| f == other) {
                        self.network.push(other.to_string());
                    }
                }
            }
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

    fn close(&mut self, t: u64) {
        if let Some(since) = self.active_since.take() {
            self.fault_time_us += t.saturating_sub(since);
        }
    }

    /// Closes an open window at the end of the history.
    pub fn finish(&mut self, t: u64) {
        self.close(t);
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

    #[test]
    fn windows_follow_start_and_end_actions() {
        let mut f = Faults::default();
        let m0 = f.mark();
        f.apply(10, "partition", &[1, 2]);
        assert!(f.active());
        assert!(f.overlapped(m0));
        f.apply(20, "kill", &[3]);
        f.apply(30, "heal", &[]);
        assert!(f.active(), "n3 still down");
        f.apply(40, "restart", &[3]);
        assert!(!f.active());
        let m1 = f.mark();
        assert!(!f.overlapped(m1));
        f.apply(50, "loss", &[]);
        f.apply(55, "loss-off", &[]);
        assert!(!f.active());
        f.apply(60, "pause", &[2]);
        f.apply(70, "heal-all", &[]);
        f.finish(100);
        assert_eq!(f.windows, 3);
        assert_eq!(f.fault_time_us, 30 + 5 + 10);
        assert!(f.overlapped(m1));
    }

    /// A power loss is a kill with lost writes: its window ends with the restart, never
    /// taken for a network fault that nothing ends.
    #[test]
    fn power_losses_are_windows_like_kills() {
        let mut f = Faults::default();
        f.apply(10, "power-loss", &[2]);
        assert!(f.active());
        f.apply(20, "restart", &[2]);
        assert!(!f.active(), "the restart ends n2's power loss");
        f.apply(30, "power-loss-all", &[1, 2, 3]);
        f.apply(40, "restart", &[1]);
        assert!(!f.active(), "a restart after a whole-cluster cut ends it (as after kill-all)");
        f.finish(50);
        assert_eq!((f.windows, f.fault_time_us), (2, 20));
    }

    #[test]
    fn heal_ends_the_partition_but_not_loss() {
        let mut f = Faults::default();
        f.apply(10, "loss", &[]);
        f.apply(20, "partition", &[]);
        f.apply(30, "heal", &[]);
        assert!(f.active(), "loss goes on");
        f.apply(40, "loss-off", &[]);
        assert!(!f.active());
    }
}
