//! The store's hash index: id hash -> position in the store's entry list,
//! plus where that entry's asset lies in memory.
//!
//! A `get` on a large cache is bound by cache misses, not by instructions:
//! with a `HashMap<String, usize>` it waited on the table, then the key's own
//! heap block, then the entry, then the asset, four misses in a row. Here a
//! slot holds the position and the asset's address: once the slot is read,
//! the entry (whose id confirms the match) and the asset's bytes are fetched
//! at the same time, so a lookup waits on two misses, not four.
//!
//! The asset is prefetched non-temporally: the bytes are only copied out, and
//! letting them through every cache level would evict the index and the entry
//! list, which are reused on every lookup. Measured on a cache of 100k 1 KB
//! assets, that prefetch alone raised single-thread gets from 1.7 to 2.0
//! million a second (BENCHMARKS.md).
//!
//! Open addressing with linear probing, at most half full. A slot's key is
//! `hash32 << 32 | (position + 1)`, 0 meaning empty: the stored hash bits
//! filter out nearly every probe that is not the asked id without touching
//! the entry. Entries are never removed one by one (the store only inserts,
//! replaces in place, or starts over), so there are no tombstones.

use std::hash::{BuildHasher, RandomState};

/// Where an asset's bytes lie. Only ever prefetched, never dereferenced, so a
/// stale or made-up value costs speed, never safety.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bulk {
    pub addr: usize,
    pub len: usize,
}

/// 16 bytes, so that four slots share a cache line and none straddles two.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: u64,
    hint: Hint,
}

/// A [`Bulk`] packed in a word: the address in the low 58 bits (user-space
/// addresses stay below 2^57 on x86-64, even with 5-level paging) and the
/// number of cache lines to prefetch in the top 6. A wrong value only
/// prefetches the wrong bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Hint(u64);

const ADDR_BITS: u32 = 58;

impl Hint {
    fn new(bulk: Bulk) -> Hint {
        // At most PREFETCH_MAX / 64 = 32 lines, which fits in the 6 bits.
        let lines = bulk.len.min(PREFETCH_MAX).div_ceil(64) as u64;
        Hint((bulk.addr as u64 & ((1 << ADDR_BITS) - 1)) | lines << ADDR_BITS)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Index {
    slots: Box<[Slot]>,
    len: usize,
    // Keyed per process (SipHash, as std's HashMap): ids may come from
    // untrusted input, and an unkeyed hash would let it force long probes.
    hasher: RandomState,
}

/// At most this many bytes of an asset are prefetched: past that, the
/// hardware's own stream prefetcher has caught on.
const PREFETCH_MAX: usize = 2048;

impl Index {
    pub fn hash(&self, id: &str) -> u32 {
        // Truncating is the point: 32 bits pick the slot and filter probes.
        self.hasher.hash_one(id) as u32
    }

    /// The position whose entry `is_at` accepts, among those filed under
    /// `hash`.
    pub fn find(&self, hash: u32, mut is_at: impl FnMut(usize) -> bool) -> Option<usize> {
        self.probe(hash).find_map(|i| {
            let slot = self.slots[i];
            if (slot.key >> 32) as u32 != hash {
                return None;
            }
            prefetch(slot.hint);
            let pos = (slot.key as u32 - 1) as usize;
            is_at(pos).then_some(pos)
        })
    }

    /// The filled slots a lookup of `hash` visits, in order: the table is at
    /// most half full, so an empty slot always ends the walk.
    fn probe(&self, hash: u32) -> impl Iterator<Item = usize> + '_ {
        let mask = self.slots.len().wrapping_sub(1);
        let start = hash as usize & mask;
        (0..self.slots.len())
            .map(move |k| (start + k) & mask)
            .take_while(|&i| self.slots[i].key != 0)
    }

    /// Files `pos` under `hash`; the caller has checked that its id is not
    /// already filed.
    pub fn insert(&mut self, hash: u32, pos: usize, bulk: Bulk) {
        let pos = u32::try_from(pos + 1).expect("more than 4 billion assets in one cache");
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let key = u64::from(hash) << 32 | u64::from(pos);
        let hint = Hint::new(bulk);
        Self::place(&mut self.slots, Slot { key, hint });
        self.len += 1;
    }

    /// Records that the asset at `pos`, filed under `hash`, was replaced.
    pub fn set_bulk(&mut self, hash: u32, pos: usize, bulk: Bulk) {
        let key = u64::from(hash) << 32 | (pos as u64 + 1);
        let found = self.probe(hash).find(|&i| self.slots[i].key == key);
        if let Some(i) = found {
            self.slots[i].hint = Hint::new(bulk);
        }
    }

    fn grow(&mut self) {
        let new_len = (self.slots.len() * 2).max(16);
        let mut slots = crate::memory::vec_with_capacity(new_len);
        slots.resize(new_len, Slot::default());
        let mut slots = slots.into_boxed_slice();
        for &slot in self.slots.iter().filter(|s| s.key != 0) {
            Self::place(&mut slots, slot);
        }
        self.slots = slots;
    }

    fn place(slots: &mut [Slot], slot: Slot) {
        let mask = slots.len() - 1;
        let mut i = (slot.key >> 32) as usize & mask;
        while slots[i].key != 0 {
            i = (i + 1) & mask;
        }
        slots[i] = slot;
    }
}

#[inline(always)]
fn prefetch(hint: Hint) {
    #[cfg(target_arch = "x86_64")]
    {
        let addr = (hint.0 & ((1 << ADDR_BITS) - 1)) as usize;
        for line in 0..(hint.0 >> ADDR_BITS) as usize {
            // SAFETY: a prefetch is only a hint: it never faults, whatever
            // the address, and changes no memory.
            unsafe {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_NTA};
                _mm_prefetch::<{ _MM_HINT_NTA }>(addr.wrapping_add(line * 64) as *const i8)
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = hint;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_position_through_collisions_and_growth() {
        let mut index = Index::default();
        // Few distinct hashes, so that probes cross filled slots and matching
        // hashes, and the table grows several times.
        let hash_of = |k: usize| (k % 7) as u32 * 0x1000_0001;
        let bulk_of = |k: usize| Bulk { addr: k, len: 1 };
        for k in 0..1000 {
            assert_eq!(index.find(hash_of(k), |p| p == k), None);
            index.insert(hash_of(k), k, bulk_of(k));
        }
        for k in 0..1000 {
            assert_eq!(index.find(hash_of(k), |p| p == k), Some(k));
        }
        assert_eq!(index.find(hash_of(3), |_| false), None);
        assert!(index.slots.len() >= 2000 && index.slots.len().is_power_of_two());
        index.set_bulk(hash_of(500), 500, Bulk { addr: 7, len: 9 });
        let bulks: Vec<_> = index
            .slots
            .iter()
            .filter(|s| s.key != 0)
            .map(|s| (s.key as u32 - 1, s.hint))
            .collect();
        assert_eq!(bulks.len(), 1000);
        for (pos, bulk) in bulks {
            let want = if pos == 500 {
                Bulk { addr: 7, len: 9 }
            } else {
                bulk_of(pos as usize)
            };
            assert_eq!(bulk, Hint::new(want), "slot of position {pos}");
        }
    }

    #[test]
    fn empty_index_finds_nothing() {
        let mut index = Index::default();
        assert_eq!(index.find(index.hash("a"), |_| true), None);
        index.set_bulk(1, 0, Bulk::default());
    }

    #[test]
    fn hint_keeps_the_address_and_caps_the_lines() {
        let addr = 0x7fff_1234_5678usize;
        let lines = |len| Hint::new(Bulk { addr, len }).0 >> ADDR_BITS;
        assert_eq!(
            Hint::new(Bulk { addr, len: 1 }).0 & ((1 << ADDR_BITS) - 1),
            addr as u64
        );
        assert_eq!((lines(0), lines(1), lines(64), lines(65)), (0, 1, 1, 2));
        assert_eq!(lines(1 << 40), (PREFETCH_MAX / 64) as u64);
        assert_eq!(std::mem::size_of::<Slot>(), 16);
    }
}
