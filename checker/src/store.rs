//! The instances the checker knows, live or packed.
//!
//! A live instance is a boxed [`Instance`]; a retired one is the byte string of
//! `packed.rs`. Asking for a packed instance unpacks it for the current event;
//! [`Store::repack`], called after every event, packs it again.

use crate::hash::FxHashMap;
use crate::instance::Instance;
use crate::packed::{pack, unpack};

enum Slot {
    Live(Box<Instance>),
    Packed(Box<[u8]>),
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
    pub fn get_or_create(&mut self, id: u64) -> &mut Instance {
        let slot = self.map.entry(id).or_insert_with(|| Slot::Live(Box::new(Instance::new())));
        Self::open(slot, id, &mut self.unpacked, &mut self.unpacks)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Instance> {
        let slot = self.map.get_mut(&id)?;
        Some(Self::open(slot, id, &mut self.unpacked, &mut self.unpacks))
    }

    fn open<'a>(
        slot: &'a mut Slot,
        id: u64,
        unpacked: &mut Option<u64>,
        unpacks: &mut u64,
    ) -> &'a mut Instance {
        if let Slot::Packed(bytes) = slot {
            // `pack` wrote these bytes, so unpacking cannot fail; if it did, the instance
            // would be judged from an empty record rather than crash the checker.
            let inst = unpack(bytes).unwrap_or_default();
            *slot = Slot::Live(Box::new(inst));
            *unpacked = Some(id);
            *unpacks += 1;
        }
        match slot {
            Slot::Live(inst) => inst,
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
