//! The instances the checker knows, live or packed.
//!
//! A live instance is a boxed [`Instance`]; a retired one is the byte string of
//! `packed.rs`. Asking for a packed instance unpacks it for the current event;
//! [`Store::repack`], called after every event, packs it again.
//!
//! Unpacking cannot fail on bytes `pack` wrote; if it ever does (a bug), the error goes up
//! to the caller as [`Unpack`], never as an empty record: an instance judged from a blank
//! record would pass late violations silently.

use crate::hash::FxHashMap;
use crate::instance::Instance;
use crate::packed::{pack, unpack};

enum Slot {
    Live(Box<Instance>),
    Packed(Box<[u8]>),
}

/// The packed record of an instance could not be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unpack {
    pub instance: u64,
}

#[derive(Default)]
pub(crate) struct Store {
    map: FxHashMap<u64, Slot>,
    /// A packed instance unpacked for the current event.
    unpacked: Option<u64>,
    /// Late events that found their instance packed.
    pub unpacks: u64,
}

impl Store {
    pub fn get_or_create(&mut self, id: u64) -> Result<&mut Instance, Unpack> {
        let slot = self.map.entry(id).or_insert_with(|| Slot::Live(Box::new(Instance::new())));
        Self::open(slot, id, &mut self.unpacked, &mut self.unpacks)
    }

    pub fn get_mut(&mut self, id: u64) -> Result<Option<&mut Instance>, Unpack> {
        match self.map.get_mut(&id) {
            None => Ok(None),
            Some(slot) => Self::open(slot, id, &mut self.unpacked, &mut self.unpacks).map(Some),
        }
    }

    fn open<'a>(
        slot: &'a mut Slot,
        id: u64,
        unpacked: &mut Option<u64>,
        unpacks: &mut u64,
    ) -> Result<&'a mut Instance, Unpack> {
        if let Slot::Packed(bytes) = slot {
            let inst = unpack(bytes).ok_or(Unpack { instance: id })?;
            *slot = Slot::Live(Box::new(inst));
            *unpacked = Some(id);
            *unpacks += 1;
        }
        match slot {
            Slot::Live(inst) => Ok(inst),
            Slot::Packed(_) => unreachable!("unpacked just above"),
        }
    }

    /// A live (not packed) instance, without unpacking.
    pub fn get_live(&self, id: u64) -> Option<&Instance> {
        match self.map.get(&id)? {
            Slot::Live(inst) => Some(inst),
            Slot::Packed(_) => None,
        }
    }

    /// A live (not packed) instance, mutably, without unpacking.
    pub fn get_live_mut(&mut self, id: u64) -> Option<&mut Instance> {
        match self.map.get_mut(&id)? {
            Slot::Live(inst) => Some(inst),
            Slot::Packed(_) => None,
        }
    }

    /// Packs instance `id` if it has no heavy part left.
    pub fn pack(&mut self, id: u64) {
        if let Some(slot) = self.map.get_mut(&id) {
            if let Slot::Live(inst) = slot {
                if inst.live.is_none() {
                    *slot = Slot::Packed(pack(inst));
                }
            }
        }
    }

    /// Packs again the instance a late event unpacked.
    pub fn repack(&mut self) {
        if let Some(id) = self.unpacked.take() {
            self.pack(id);
        }
    }

    /// Ids of instances that still have their heavy part, sorted.
    pub fn in_flight(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .map
            .iter()
            .filter(|(_, s)| matches!(s, Slot::Live(i) if i.live.is_some()))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
impl Store {
    /// Cuts the last byte off a packed record, as a bug in `pack` might.
    pub fn corrupt(&mut self, id: u64) {
        if let Some(Slot::Packed(bytes)) = self.map.get_mut(&id) {
            *bytes = bytes[..bytes.len() - 1].into();
        }
    }

    pub fn is_packed(&self, id: u64) -> bool {
        matches!(self.map.get(&id), Some(Slot::Packed(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::Ref;

    fn packed_store() -> Store {
        let mut store = Store::default();
        let inst = store.get_or_create(7).unwrap();
        inst.intern("v");
        inst.retire(Ref { line: 3, t: 30 });
        store.pack(7);
        assert!(store.is_packed(7));
        store
    }

    #[test]
    fn a_packed_record_comes_back() {
        let mut store = packed_store();
        let inst = store.get_mut(7).unwrap().unwrap();
        assert_eq!(inst.lookup("v"), Some(0));
        assert_eq!(store.unpacks, 1);
    }

    #[test]
    fn a_record_that_does_not_unpack_is_an_error_not_an_empty_record() {
        let mut store = packed_store();
        store.corrupt(7);
        assert_eq!(store.get_mut(7).err(), Some(Unpack { instance: 7 }));
        assert_eq!(store.get_or_create(7).err(), Some(Unpack { instance: 7 }));
        // Still packed (and still unreadable): nothing was replaced by a blank record.
        assert!(store.is_packed(7));
        assert!(store.get_mut(8).unwrap().is_none());
    }
}
