//! The client proposals made so far: how many times each proposer was asked to propose in
//! each instance, two bits each in one word (so a state stays a few numbers).
//!
//! A client asks each proposer once per instance; after a crash, a client may ask again
//! (once per crash spent so far, at most three times in all), with a fresh value: the op
//! of the first ask may have died with the node, and a client that retries is what finds a
//! proposer that reuses a ballot after its restart.

use super::spec::Spec;
use synod_node::paxos::{InstanceId, NodeId};

/// Proposals a proposer may make in one instance, at most.
pub const MAX_ASKS: u8 = 3;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Proposals(u64);

impl Proposals {
    fn shift(spec: &Spec, node: NodeId, instance: InstanceId) -> u32 {
        2 * ((node - 1) * spec.instances as u32 + (instance as u32 - 1))
    }

    /// How many times `node` was asked to propose in `instance`.
    pub fn count(self, spec: &Spec, node: NodeId, instance: InstanceId) -> u8 {
        ((self.0 >> Self::shift(spec, node, instance)) & 3) as u8
    }

    /// Whether the client may ask `node` (again) in `instance`, with `crashes` spent.
    pub fn may_ask(self, spec: &Spec, node: NodeId, instance: InstanceId, crashes: u32) -> bool {
        Self::may_ask_after(self.count(spec, node, instance), crashes)
    }

    /// Whether a client that asked `count` times may ask again, with `crashes` spent.
    pub fn may_ask_after(count: u8, crashes: u32) -> bool {
        u32::from(count) <= crashes && count < MAX_ASKS
    }

    /// Counts one more ask; returns its number (0 for the first).
    pub fn ask(&mut self, spec: &Spec, node: NodeId, instance: InstanceId) -> u8 {
        let k = self.count(spec, node, instance);
        assert!(k < MAX_ASKS, "at most {MAX_ASKS} asks per proposer and instance");
        self.0 += 1 << Self::shift(spec, node, instance);
        k
    }

    /// The asks of `node` in every instance, two bits an instance from instance 1 up.
    pub fn of_node(self, spec: &Spec, node: NodeId) -> u16 {
        if node > spec.proposers {
            return 0;
        }
        let bits = 2 * spec.instances as u32;
        ((self.0 >> Self::shift(spec, node, 1)) & ((1u64 << bits) - 1)) as u16
    }

    /// Whether `value` was proposed in `instance` (validity).
    pub fn was_proposed(self, spec: &Spec, instance: InstanceId, value: &str) -> bool {
        spec.proposer_ids()
            .into_iter()
            .any(|p| (0..self.count(spec, p, instance)).any(|k| Spec::value(p, instance, k) == value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_are_counted_per_proposer_and_instance_and_bounded_by_crashes() {
        let spec = Spec { instances: 2, ..Spec::default() };
        let mut p = Proposals::default();
        assert!(p.may_ask(&spec, 2, 2, 0));
        assert_eq!(p.ask(&spec, 2, 2), 0);
        assert!(!p.may_ask(&spec, 2, 2, 0), "once with no crash");
        assert!(p.may_ask(&spec, 2, 2, 1), "again after a crash");
        assert_eq!(p.ask(&spec, 2, 2), 1);
        assert_eq!((p.count(&spec, 2, 2), p.count(&spec, 2, 1), p.count(&spec, 1, 2)), (2, 0, 0));
        assert!(p.was_proposed(&spec, 2, &Spec::value(2, 2, 1)));
        assert!(!p.was_proposed(&spec, 1, &Spec::value(2, 2, 1)));
        assert!(!p.was_proposed(&spec, 2, &Spec::value(1, 2, 0)));
        p.ask(&spec, 2, 2);
        assert!(!p.may_ask(&spec, 2, 2, 8), "at most {MAX_ASKS}");
    }
}
