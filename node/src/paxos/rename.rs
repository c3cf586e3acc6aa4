//! A node's state with the nodes renamed, for the model checker's symmetry reduction
//! (`synod model`, docs/model.md "Symmetry"): beside the hot path, never on it.
//!
//! Why: nodes that play the same roles differ only in their names. A cluster state in which
//! acceptors n3 and n4 swap everything they hold (their states, the messages to and from
//! them, the votes others counted from them) behaves as the original with the names
//! swapped, so a search needs to visit one of the two. To build the swapped state the
//! search must rename every id a node holds: the promises and votes its proposer counted,
//! the learners it waits on, the voters in its tallies, the peers waiting for lookups.
//!
//! Only renamings that fix every proposer: ballots carry their proposer's id and round 0
//! has an owner, so two proposers never behave alike. A node's random generator is seeded
//! by its id; a node that has drawn from it (randomised backoff) cannot be renamed. The
//! model checker does not take this on trust: it checks, for every step it uses, that the
//! renamed node takes the renamed step.

use super::{Node, NodeId};

impl Node {
    /// This node's state had every node `n` been named `map(n)`: the state node
    /// `map(self.id())` would hold. `map` must be a permutation of the config's nodes that
    /// fixes every proposer. `None` when the node has drawn from its random generator.
    /// Call it only with no output left to poll.
    pub fn renamed(&self, map: &dyn Fn(NodeId) -> NodeId) -> Option<Node> {
        assert!(self.fx.is_empty(), "a node renamed with outputs not yet performed");
        for &p in &self.config.proposers {
            assert_eq!(map(p), p, "a renaming must fix every proposer (n{p})");
        }
        if self.rng != Node::first_rng(&self.config) {
            return None;
        }
        let mut node = self.clone();
        let rename_all = |ids: &mut Vec<NodeId>| {
            let mut renamed: Vec<NodeId> = ids.iter().map(|&n| map(n)).collect();
            renamed.sort_unstable();
            *ids = renamed;
        };
        node.config.node = map(self.config.node);
        rename_all(&mut node.config.acceptors);
        rename_all(&mut node.config.proposers);
        rename_all(&mut node.config.learners);
        node.rng = Node::first_rng(&node.config);
        node.proposer.rename(map);
        node.learner.rename(map);
        node.lookups.rename(map);
        Some(node)
    }
}

#[cfg(test)]
mod tests {
    use super::super::msg::{Accept, Accepted, Msg, Prepare};
    use super::super::{Ballot, Config, Node, NodeId, Output};
    use std::collections::hash_map::DefaultHasher;
    use std::hash::Hasher;

    fn fp(node: &Node) -> u64 {
        let mut h = DefaultHasher::new();
        node.fingerprint(0, &mut h);
        h.finish()
    }

    /// Swaps n3 and n4.
    fn swap(n: NodeId) -> NodeId {
        match n {
            3 => 4,
            4 => 3,
            n => n,
        }
    }

    fn config(node: NodeId) -> Config {
        Config { proposers: vec![1], ..Config::all_roles(node, &[1, 2, 3, 4]) }
    }

    /// The outputs of `node` on `msg` from `from`, each send's target named by `map`, sorted.
    fn handle(node: &mut Node, from: NodeId, msg: Msg, map: fn(NodeId) -> NodeId) -> Vec<String> {
        node.handle_message(0, from, msg);
        let mut outputs = Vec::new();
        while let Some(out) = node.poll_output() {
            outputs.push(match out {
                Output::Send { to, msg } => format!("to n{}: {msg:?}", map(to)),
                other => format!("{other:?}"),
            });
        }
        outputs.sort();
        outputs
    }

    /// Feeds `msg` from `from` to `node`, and from `swap(from)` to `swapped` (`node` renamed
    /// by [`swap`]): the outputs are the same with n3 and n4 swapped, and so are the states.
    fn both(node: &mut Node, swapped: &mut Node, from: NodeId, msg: Msg) -> Vec<String> {
        let outputs = handle(node, from, msg.clone(), swap);
        assert_eq!(handle(swapped, swap(from), msg, |n| n), outputs, "n{from}'s message");
        assert_eq!(fp(swapped), fp(&node.renamed(&swap).unwrap()), "after n{from}'s message");
        outputs
    }

    #[test]
    fn a_renamed_node_takes_the_renamed_steps() {
        // A learner (n2) counts votes: n3's, then n1's and n4's make a quorum of three.
        let b = Ballot::new(1, 1);
        let accepted = Msg::Accepted(Accepted { instance: 1, ballot: b, value: "v".into() });
        let mut n2 = Node::new(config(2), &[]);
        handle(&mut n2, 3, accepted.clone(), swap);
        let mut swapped = n2.renamed(&swap).expect("no random draw");
        assert_eq!(swapped.id(), 2);
        assert_ne!(fp(&swapped), fp(&n2), "the tally names n4 now, not n3");
        assert_eq!(fp(&swapped.renamed(&swap).unwrap()), fp(&n2), "swapping twice is the identity");
        assert!(both(&mut n2, &mut swapped, 1, accepted.clone()).is_empty(), "two votes of four");
        let learned = both(&mut n2, &mut swapped, 4, accepted.clone());
        assert!(learned.iter().any(|o| o.starts_with("Learned")), "{learned:?}");

        // A proposer (n1, round 0's owner: straight to phase 2) counts votes by acceptor,
        // and once three are in, announces the decision to every learner.
        let mut n1 = Node::new(config(1), &[]);
        n1.handle_propose(0, 1, 1, "w".into());
        while n1.poll_output().is_some() {}
        let ballot = n1.proposer().ballot_of(1).expect("a ballot under way");
        let vote = Msg::Accepted(Accepted { instance: 1, ballot, value: "w".into() });
        handle(&mut n1, 3, vote.clone(), swap);
        let mut swapped = n1.renamed(&swap).unwrap();
        assert!(both(&mut n1, &mut swapped, 2, vote.clone()).is_empty(), "two votes of four");
        let decided = both(&mut n1, &mut swapped, 4, vote);
        assert!(decided.iter().filter(|o| o.contains("Decided")).count() >= 3, "{decided:?}");

        // An acceptor renamed is the other acceptor: n3 promised, renamed it is n4 that did,
        // and it votes as n3 does, to every learner.
        let mut n3 = Node::new(config(3), &[]);
        handle(&mut n3, 1, Msg::Prepare(Prepare { instance: 1, ballot: b }), swap);
        let mut n4 = n3.renamed(&swap).unwrap();
        assert_eq!(n4.id(), 4);
        let accept = Msg::Accept(Accept { instance: 1, ballot: b, value: "v".into() });
        let (votes, swapped_votes) =
            (handle(&mut n3, 1, accept.clone(), |n| n), handle(&mut n4, 1, accept, |n| n));
        assert_eq!(votes.len(), 5, "the accept recorded, a vote to each of four learners: {votes:?}");
        assert_eq!(votes, swapped_votes);
    }

    #[test]
    fn proposers_stay_and_a_node_that_drew_cannot_be_renamed() {
        let n3 = Node::new(config(3), &[]);
        let fixes_n1 = std::panic::catch_unwind(|| {
            n3.renamed(&|n| {
                if n == 1 {
                    2
                } else if n == 2 {
                    1
                } else {
                    n
                }
            })
        });
        assert!(fixes_n1.is_err(), "n1 proposes: a renaming must fix it");
        let mut drew = Node::new(config(3), &[]);
        drew.rng.next_u64();
        assert!(drew.renamed(&swap).is_none());
    }
}
