//! Partition shapes, as in Jepsen: random halves, one node isolated, a majority ring (every
//! node sees a majority, no two the same majority), a bridge (two halves joined by one node
//! that sees both), and one-way cuts (a node that can send but not hear, or the reverse).

use super::Action;
use synod_node::paxos::rng::Rng;
use synod_node::paxos::NodeId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Halves,
    Isolate,
    Ring,
    Bridge,
    OneWay,
}

impl Shape {
    pub const ALL: [Shape; 5] = [Shape::Halves, Shape::Isolate, Shape::Ring, Shape::Bridge, Shape::OneWay];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Halves => "halves",
            Shape::Isolate => "isolate",
            Shape::Ring => "ring",
            Shape::Bridge => "bridge",
            Shape::OneWay => "one-way",
        }
    }

    /// Whether the shape cuts anything in a cluster of `n` (a ring of 3 is fully connected,
    /// a bridge needs two non-empty halves besides the bridge node).
    pub fn fits(self, n: usize) -> bool {
        match self {
            Shape::Halves | Shape::Isolate | Shape::OneWay => n >= 2,
            Shape::Ring => n >= 4,
            Shape::Bridge => n >= 3,
        }
    }

    /// A random shape that fits `n` nodes; `None` for a single node.
    pub fn pick(rng: &mut Rng, n: usize) -> Option<Shape> {
        let fitting: Vec<Shape> = Shape::ALL.into_iter().filter(|s| s.fits(n)).collect();
        if fitting.is_empty() {
            return None;
        }
        Some(fitting[rng.below(fitting.len() as u64) as usize])
    }

    /// The partition action of this shape over `nodes`, with random placement.
    pub fn action(self, rng: &mut Rng, nodes: &[NodeId]) -> Action {
        let mut order = nodes.to_vec();
        shuffle(rng, &mut order);
        let n = order.len();
        let (components, cut) = match self {
            Shape::Halves => {
                let (a, b) = order.split_at(n / 2);
                (vec![a.to_vec(), b.to_vec()], vec![])
            }
            Shape::Isolate => (vec![vec![order[0]], order[1..].to_vec()], vec![]),
            Shape::Bridge => {
                // order[0] is the bridge; the rest split in two halves that only it joins.
                let rest = &order[1..];
                let (a, b) = rest.split_at(rest.len() / 2);
                let mut cut = Vec::new();
                for &x in a {
                    for &y in b {
                        cut.push([x, y]);
                        cut.push([y, x]);
                    }
                }
                (vec![], cut)
            }
            Shape::Ring => {
                // Around a shuffled ring each node sees its k nearest on either side: 2k + 1
                // nodes, a majority, and a different majority for every node.
                let k = (n / 2).div_ceil(2);
                let mut cut = Vec::new();
                for i in 0..n {
                    for j in 0..n {
                        let d = i.abs_diff(j).min(n - i.abs_diff(j));
                        if d > k {
                            cut.push([order[i], order[j]]);
                        }
                    }
                }
                (vec![], cut)
            }
            Shape::OneWay => {
                let x = order[0];
                let inbound = rng.below(2) == 0;
                let cut =
                    order[1..].iter().map(|&y| if inbound { [y, x] } else { [x, y] }).collect::<Vec<_>>();
                (vec![], cut)
            }
        };
        let mut cut = cut;
        cut.sort();
        Action::Partition { shape: Some(self.name().into()), components, cut }
    }
}

/// Fisher-Yates with the schedule's generator.
pub fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn links(a: &Action) -> BTreeSet<(NodeId, NodeId)> {
        match a {
            Action::Partition { components, cut, .. } => Action::cut_links(components, cut),
            _ => panic!("not a partition"),
        }
    }

    /// Which nodes `x` can hear from (itself included).
    fn hears(l: &BTreeSet<(NodeId, NodeId)>, x: NodeId, n: u32) -> BTreeSet<NodeId> {
        (1..=n).filter(|&y| !l.contains(&(y, x))).collect()
    }

    #[test]
    fn majority_ring_gives_every_node_a_different_majority() {
        for n in [4u32, 5, 7, 9] {
            let mut rng = Rng::new(n as u64);
            let nodes: Vec<NodeId> = (1..=n).collect();
            let l = links(&Shape::Ring.action(&mut rng, &nodes));
            let views: BTreeSet<BTreeSet<NodeId>> = (1..=n).map(|x| hears(&l, x, n)).collect();
            assert_eq!(views.len(), n as usize, "n={n}: views must differ");
            for v in &views {
                assert!(v.len() as u32 > n / 2, "n={n}: {v:?} is not a majority");
                assert!((v.len() as u32) < n, "n={n}: someone must be cut");
            }
        }
    }

    #[test]
    fn halves_isolate_bridge_and_one_way_cut_what_they_say() {
        let nodes: Vec<NodeId> = (1..=5).collect();
        let mut rng = Rng::new(9);
        let l = links(&Shape::Halves.action(&mut rng, &nodes));
        let heard: Vec<usize> = (1..=5).map(|x| hears(&l, x, 5).len()).collect();
        assert_eq!(heard.iter().filter(|&&h| h == 2).count(), 2, "{heard:?}");
        assert_eq!(heard.iter().filter(|&&h| h == 3).count(), 3, "{heard:?}");

        let l = links(&Shape::Isolate.action(&mut rng, &nodes));
        assert_eq!(l.len(), 8);
        assert_eq!((1..=5).filter(|&x| hears(&l, x, 5).len() == 1).count(), 1);

        let l = links(&Shape::Bridge.action(&mut rng, &nodes));
        let full: Vec<NodeId> = (1..=5).filter(|&x| hears(&l, x, 5).len() == 5).collect();
        assert_eq!(full.len(), 1, "one bridge node hears everyone");
        assert!((1..=5).filter(|x| !full.contains(x)).all(|x| hears(&l, x, 5).len() == 3));

        let l = links(&Shape::OneWay.action(&mut rng, &nodes));
        assert_eq!(l.len(), 4);
        assert!(l.iter().all(|&(a, b)| !l.contains(&(b, a))), "one way only");
    }

    #[test]
    fn shapes_fit_small_clusters() {
        let mut rng = Rng::new(1);
        assert_eq!(Shape::pick(&mut rng, 1), None);
        for _ in 0..50 {
            let s = Shape::pick(&mut rng, 3).unwrap();
            assert!(s != Shape::Ring);
            assert!(!links(&s.action(&mut rng, &[1, 2, 3])).is_empty());
        }
    }
}
