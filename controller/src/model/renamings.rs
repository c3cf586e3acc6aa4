//! The renamings of a spec's interchangeable nodes (the group `super::symmetry` reduces
//! by), and what each makes of the values renamed so far.
//!
//! Apart from `super::symmetry`, which renames the world's states, so that the world can
//! hold the renamings without the two importing each other.

use super::spec::{Spec, MAX_NODES};
use synod_node::paxos::hash::FastMap;
use synod_node::paxos::NodeId;

/// Interchangeable nodes at most: every permutation of them is tried on every new state
/// (5! = 120 of them). With more, the search runs without symmetry.
pub const MAX_SYMMETRIC: usize = 5;

/// A renaming of the nodes: node `n` is named `perm[n]` (index 0 unused).
pub type Perm = [NodeId; MAX_NODES + 1];

/// The renamings of a spec and what they make of each value, computed once.
pub struct Symmetry {
    /// Every permutation of the interchangeable nodes, the identity first.
    pub(super) perms: Vec<Perm>,
    /// Per node (by index): the renaming that swaps it with the next interchangeable node,
    /// for the check; `None` for a proposer.
    pub(super) swaps: Vec<Option<u8>>,
    /// What each renaming made of a node's state (by node and number), a message, a ghost.
    pub(super) locals: FastMap<(NodeId, u32, u8), u32>,
    pub(super) msgs: FastMap<(u32, u8), u32>,
    pub(super) ghosts: FastMap<(u32, u8), u32>,
}

impl Symmetry {
    /// The renamings of `spec`'s nodes that do not propose, or `None` when fewer than two
    /// (or more than [`MAX_SYMMETRIC`]) are interchangeable.
    pub fn of(spec: &Spec) -> Option<Symmetry> {
        let free: Vec<NodeId> = spec.node_ids().into_iter().filter(|&n| n > spec.proposers).collect();
        if free.len() < 2 || free.len() > MAX_SYMMETRIC {
            return None;
        }
        let identity: Perm = std::array::from_fn(|n| n as NodeId);
        let mut perms = Vec::new();
        permutations(&free, &mut free.clone(), 0, identity, &mut perms);
        assert_eq!(perms[0], identity, "the identity comes first");
        let swaps = spec
            .node_ids()
            .into_iter()
            .map(|n| {
                let at = free.iter().position(|&f| f == n)?;
                let other = free[(at + 1) % free.len()];
                let mut swap = identity;
                (swap[n as usize], swap[other as usize]) = (other, n);
                perms.iter().position(|p| *p == swap).map(|k| k as u8)
            })
            .collect();
        Some(Symmetry {
            perms,
            swaps,
            locals: FastMap::default(),
            msgs: FastMap::default(),
            ghosts: FastMap::default(),
        })
    }

    /// How many renamings there are (the size of the group, the identity included).
    pub fn size(&self) -> usize {
        self.perms.len()
    }

    /// The number of `perm`.
    pub(super) fn index(&self, perm: &Perm) -> u8 {
        self.perms.iter().position(|p| p == perm).expect("a renaming of the group") as u8
    }
}

/// Every arrangement of `free` (the nodes at `free`'s places get `names`' order), from
/// place `at` on, into `out`; the identity first.
fn permutations(free: &[NodeId], names: &mut Vec<NodeId>, at: usize, identity: Perm, out: &mut Vec<Perm>) {
    if at == names.len() {
        let mut perm = identity;
        for (&n, &name) in free.iter().zip(names.iter()) {
            perm[n as usize] = name;
        }
        out.push(perm);
        return;
    }
    for i in at..names.len() {
        names.swap(at, i);
        permutations(free, names, at + 1, identity, out);
        names.swap(at, i);
    }
}
