//! `synod model`: a breadth-first search over every reachable state of a small cluster of
//! the real core (`synod_node::paxos::Node`, the code every node process runs), for bounded
//! configurations (docs/model.md).
//!
//! Why the real core and not a model of it: a specification checked by TLC or a Stateright
//! actor says nothing about the code that then runs under real faults; here the states are
//! the core's own, cloned and fingerprinted (`Node::fingerprint`), and every transition is a
//! call of the core's own handlers.
//!
//! Parts, one concern each: [`spec`] (the bounded configuration), [`state`] (nodes, durable
//! records, the net, the ghost history the invariants read), [`step`] (the transitions),
//! [`invariants`] (the safety rules, judged on every step), [`world`] (the search's tables:
//! each node step run once), [`explore`] (the search, with parent pointers for the shortest
//! counterexample), its reductions [`dead`] (dead messages) and [`symmetry`] (interchangeable
//! nodes), [`walk`] (random walks where a bound stopped the search) and [`trace`] (a
//! counterexample as an ordinary run folder that `synod check` judges).

pub mod dead;
pub mod explore;
pub mod intern;
pub mod invariants;
pub mod proposals;
pub mod reference;
pub mod renamings;
pub mod spec;
pub mod state;
pub mod step;
pub mod symmetry;
pub mod trace;
pub mod walk;
pub mod world;

pub use explore::{explore, explore_with, Limits, Outcome, Reduction};
pub use invariants::{Rule, Violation};
pub use spec::Spec;
pub use state::State;
pub use step::{Action, Net};
