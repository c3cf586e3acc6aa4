//! A smaller cluster: the candidate with only nodes 1..=k. Fewer nodes means fewer messages
//! for every decision, the largest cut of a counterexample's length once its time and
//! instances are small. Roles keep the nodes that remain (a role left with none: no such
//! candidate), and the schedule keeps what it did to them: node lists narrowed, actions left
//! with no target dropped, partitions narrowed to the remaining nodes (dropped when they cut
//! nothing any more), message triggers naming a removed node dropped.

use super::trial::Candidate;
use crate::nemesis::{Action, Schedule, Timed, Trigger};
use synod_node::paxos::NodeId;

/// `c` on nodes 1..=k, or None when a role would have no node.
pub fn with_nodes(c: &Candidate, k: u32) -> Option<Candidate> {
    let keep = |list: &[NodeId]| list.iter().copied().filter(|&n| n <= k).collect::<Vec<_>>();
    let mut out = c.clone();
    out.cfg.nodes = k;
    out.cfg.acceptors = keep(&c.cfg.acceptors);
    out.cfg.proposers = keep(&c.cfg.proposers);
    out.cfg.learners = keep(&c.cfg.learners);
    out.cfg.bug_nodes = keep(&c.cfg.bug_nodes);
    if [&out.cfg.acceptors, &out.cfg.proposers, &out.cfg.learners].iter().any(|l| l.is_empty()) {
        return None;
    }
    let timed = c
        .schedule
        .timed
        .iter()
        .filter_map(|t| narrow(&t.action, k).map(|action| Timed { at_us: t.at_us, action }))
        .collect();
    let triggers = c
        .schedule
        .triggers
        .iter()
        .filter(|t| t.on.src.is_none_or(|n| n <= k) && t.on.dest.is_none_or(|n| n <= k))
        .filter_map(|t| narrow(&t.action, k).map(|action| Trigger { on: t.on.clone(), action }))
        .collect();
    out.schedule = Schedule { timed, triggers };
    Some(out)
}

/// The action restricted to nodes 1..=k; None when nothing of it is left.
fn narrow(action: &Action, k: u32) -> Option<Action> {
    let keep = |list: &[NodeId]| list.iter().copied().filter(|&n| n <= k).collect::<Vec<_>>();
    let targeted = |list: &[NodeId], make: fn(Vec<NodeId>) -> Action| {
        let list = keep(list);
        (!list.is_empty()).then(|| make(list))
    };
    let narrowed = match action {
        Action::Kill { nodes } => targeted(nodes, |nodes| Action::Kill { nodes })?,
        Action::Restart { nodes } => targeted(nodes, |nodes| Action::Restart { nodes })?,
        Action::Stop { nodes } => targeted(nodes, |nodes| Action::Stop { nodes })?,
        Action::Cont { nodes } => targeted(nodes, |nodes| Action::Cont { nodes })?,
        Action::Hold { nodes } => targeted(nodes, |nodes| Action::Hold { nodes })?,
        Action::HoldOff { nodes } => targeted(nodes, |nodes| Action::HoldOff { nodes })?,
        Action::PowerLoss { nodes, torn } => {
            let nodes = keep(nodes);
            if nodes.is_empty() {
                return None;
            }
            Action::PowerLoss { nodes, torn: *torn }
        }
        // Filled in by the run with the nodes it hit.
        Action::KillAll { nodes } => Action::KillAll { nodes: keep(nodes) },
        Action::PowerLossAll { nodes, torn } => Action::PowerLossAll { nodes: keep(nodes), torn: *torn },
        Action::Partition { shape, components, cut } => {
            let components: Vec<Vec<NodeId>> =
                components.iter().map(|g| keep(g)).filter(|g| !g.is_empty()).collect();
            let cut: Vec<[NodeId; 2]> = cut.iter().copied().filter(|l| l.iter().all(|&n| n <= k)).collect();
            if components.len() < 2 && cut.is_empty() {
                return None;
            }
            Action::Partition { shape: shape.clone(), components, cut }
        }
        other => other.clone(),
    };
    debug_assert!(narrowed.validate(k).is_ok(), "{narrowed:?} on {k} nodes");
    Some(narrowed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::config::RunConfig;

    #[test]
    fn a_smaller_cluster_keeps_what_the_schedule_did_to_its_nodes() {
        let mut cfg = RunConfig::defaults(5, 1);
        cfg.proposers = vec![2, 5];
        cfg.bug_nodes = vec![4, 5];
        let schedule = Schedule::from(vec![
            Timed { at_us: 1, action: Action::Kill { nodes: vec![2, 4] } },
            Timed { at_us: 2, action: Action::Stop { nodes: vec![5] } },
            Timed {
                at_us: 3,
                action: Action::Partition {
                    shape: None,
                    components: vec![vec![1, 2], vec![3, 4, 5]],
                    cut: vec![],
                },
            },
            Timed {
                at_us: 4,
                action: Action::Partition {
                    shape: None,
                    components: vec![vec![1, 2, 3], vec![4, 5]],
                    cut: vec![[5, 1]],
                },
            },
            Timed { at_us: 5, action: Action::Loss { p: 0.5 } },
        ]);
        let c = Candidate { cfg, schedule };
        let three = with_nodes(&c, 3).unwrap();
        assert_eq!((three.cfg.nodes, &three.cfg.proposers, &three.cfg.bug_nodes), (3, &vec![2], &vec![]));
        assert_eq!(three.cfg.acceptors, vec![1, 2, 3]);
        let actions: Vec<&Action> = three.schedule.timed.iter().map(|t| &t.action).collect();
        assert_eq!(
            actions,
            [
                &Action::Kill { nodes: vec![2] },
                &Action::Partition { shape: None, components: vec![vec![1, 2], vec![3]], cut: vec![] },
                &Action::Loss { p: 0.5 },
            ]
        );
        assert!(three.cfg.validate().is_ok());
        assert!(with_nodes(&c, 1).is_none(), "no proposer among n1");
    }
}
