//! The store's hash index: id hash -> position in the store's entry list,
//! plus, per position, where that entry's asset lies in memory.
//!
//! A `get` on a large cache is bound by cache misses, not by instructions.
//! With a `HashMap<String, usize>` it waited on the table, then the key's own
//! heap block, then the entry, then the asset: four misses in a row. Here the
//! index is small enough to stay in the CPU's caches (13 bytes a slot, 1.7
//! MB for 100k assets), the three arrays of a slot are read at the same
//! time (they depend only on the slot number), and the slot's hint says
//! where the asset lies, so the entry (whose id confirms the match) and the
//! asset's bytes are then fetched at the same time: one wait on memory
//! instead of four.
//!
//! The asset is prefetched non-temporally: its bytes are only copied out,
//! and letting them through every cache level would evict the index.
//!
//! Open addressing with linear probing, at most 7/8 full, laid out as
//! hashbrown's tables are: a byte of tag per slot (0 for empty, else 7 bits
//! of the hash), scanned first, and the position in a parallel array read
//! only when a tag matches. Entries are never removed one by one (the store
//! only inserts, replaces in place, or starts over), so there are no
//! tombstones.

use std::hash::{BuildHasher, RandomState};

/// Where an asset's bytes lie. Only ever prefetched, never dereferenced, so a
/// stale or made-up value costs speed, never safety.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bulk {
    pub addr: usize,
    pub len: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Index<S = RandomState> {
    /// Per slot: 0 when empty, else `tag(hash)`.
    tags: Box<[u8]>,
    /// Per slot: the position filed there (meaningful where the tag is set).
    slots: Box<[u32]>,
    /// Per slot: where the asset at that position lies.
    hints: Box<[Hint]>,
    /// Filed positions.
    len: usize,
    // Keyed per process (SipHash, as std's HashMap): ids may come from
    // untrusted input, and an unkeyed hash would let it force long probes.
    hasher: S,
}

/// A [`Bulk`] packed in a word: the address in the low 58 bits (user-space
/// addresses stay below 2^57 on x86-64, even with 5-level paging) and the
/// number of cache lines to prefetch in the top 6.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Hint(u64);

const ADDR_BITS: u32 = 58;

/// At most this many bytes of an asset are prefetched: past that, the
/// hardware's own stream prefetcher has caught on.
const PREFETCH_MAX: usize = 2048;

impl Hint {
    fn new(bulk: Bulk) -> Hint {
        // At most PREFETCH_MAX / 64 = 32 lines, which fits in the 6 bits.
        let lines = bulk.len.min(PREFETCH_MAX).div_ceil(64) as u64;
        Hint((bulk.addr as u64 & ((1 << ADDR_BITS) - 1)) | lines << ADDR_BITS)
    }
}

fn tag(hash: u64) -> u8 {
    0x80 | (hash >> 57) as u8
}

impl<S: BuildHasher + Clone> Index<S> {
    pub fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    /// The position whose entry `is_at` accepts, among those filed under
    /// `hash`.
    pub fn find(&self, hash: u64, mut is_at: impl FnMut(usize) -> bool) -> Option<usize> {
        let want = tag(hash);
        self.probe(hash).find_map(|i| {
            if self.tags[i] != want {
                return None;
            }
            prefetch(self.hints[i]);
            let pos = self.slots[i] as usize;
            is_at(pos).then_some(pos)
        })
    }

    /// The filled slots a lookup of `hash` visits, in order: the table is
    /// never full, so an empty slot always ends the walk.
    fn probe(&self, hash: u64) -> impl Iterator<Item = usize> + '_ {
        let mask = self.tags.len().wrapping_sub(1);
        let start = hash as usize & mask;
        (0..self.tags.len())
            .map(move |k| (start + k) & mask)
            .take_while(|&i| self.tags[i] != 0)
    }

    /// Files position `pos`, the next one (the store's length), under
    /// `hash`; the caller has checked that its id is not already filed.
    /// Growing the table hashes every filed position's id again:
    /// `id_at(p)`.
    pub fn insert<'a>(
        &mut self,
        hash: u64,
        pos: usize,
        bulk: Bulk,
        id_at: impl Fn(usize) -> &'a str,
    ) {
        debug_assert_eq!(pos, self.len);
        if (self.len + 1) * 8 > self.tags.len() * 7 {
            let hasher = self.hasher.clone();
            self.grow(|p| hasher.hash_one(id_at(p)));
        }
        let pos = u32::try_from(pos).expect("more than 4 billion assets in one cache");
        self.place(hash, pos, Hint::new(bulk));
        self.len += 1;
    }

    /// Records that the asset at `pos`, filed under `hash`, was replaced.
    pub fn set_bulk(&mut self, hash: u64, pos: usize, bulk: Bulk) {
        let want = tag(hash);
        let found = self
            .probe(hash)
            .find(|&i| self.tags[i] == want && self.slots[i] as usize == pos);
        if let Some(i) = found {
            self.hints[i] = Hint::new(bulk);
        }
    }

    fn grow(&mut self, hash_at: impl Fn(usize) -> u64) {
        let new_len = (self.tags.len() * 2).max(16);
        let tags = std::mem::replace(&mut self.tags, vec![0; new_len].into_boxed_slice());
        let slots = std::mem::replace(&mut self.slots, vec![0; new_len].into_boxed_slice());
        let hints = std::mem::replace(
            &mut self.hints,
            vec![Hint::default(); new_len].into_boxed_slice(),
        );
        for i in (0..tags.len()).filter(|&i| tags[i] != 0) {
            self.place(hash_at(slots[i] as usize), slots[i], hints[i]);
        }
    }

    fn place(&mut self, hash: u64, pos: u32, hint: Hint) {
        let mask = self.tags.len() - 1;
        let mut i = hash as usize & mask;
        while self.tags[i] != 0 {
            i = (i + 1) & mask;
        }
        self.tags[i] = tag(hash);
        self.slots[i] = pos;
        self.hints[i] = hint;
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
        // Seven distinct hashes (and tags), so that probes cross filled slots
        // and matching tags, and the table grows several times.
        let mut index = Index::<FewHashes>::default();
        let ids: Vec<String> = (0..1000).map(|k| format!("id{k}")).collect();
        let hashes: Vec<u64> = ids.iter().map(|id| index.hash(id)).collect();
        let bulk_of = |k: usize| Bulk { addr: k, len: 1 };
        for (k, &hash) in hashes.iter().enumerate() {
            assert_eq!(index.find(hash, |p| p == k), None);
            index.insert(hash, k, bulk_of(k), |p| ids[p].as_str());
        }
        for (k, &hash) in hashes.iter().enumerate() {
            assert_eq!(index.find(hash, |p| p == k), Some(k));
        }
        assert_eq!(index.find(hashes[3], |_| false), None);
        assert!(index.tags.len() >= 1000 * 8 / 7 && index.tags.len().is_power_of_two());
        index.set_bulk(hashes[500], 500, Bulk { addr: 7, len: 9 });
        let filed: Vec<usize> = (0..index.tags.len())
            .filter(|&i| index.tags[i] != 0)
            .collect();
        assert_eq!(filed.len(), 1000);
        for i in filed {
            let pos = index.slots[i] as usize;
            let want = if pos == 500 {
                Bulk { addr: 7, len: 9 }
            } else {
                bulk_of(pos)
            };
            assert_eq!(index.hints[i], Hint::new(want), "hint of position {pos}");
        }
    }

    /// Hashes an id to one of seven values (its byte sum mod 7).
    #[derive(Clone, Default)]
    struct FewHashes;

    impl BuildHasher for FewHashes {
        type Hasher = FewHasher;
        fn build_hasher(&self) -> FewHasher {
            FewHasher(0)
        }
    }

    struct FewHasher(u64);

    impl std::hash::Hasher for FewHasher {
        fn write(&mut self, bytes: &[u8]) {
            self.0 += bytes.iter().map(|&b| u64::from(b)).sum::<u64>();
        }
        fn finish(&self) -> u64 {
            (self.0 % 7) * 0x1000_0000_0000_0001
        }
    }

    #[test]
    fn empty_index_finds_nothing() {
        let index = Index::<RandomState>::default();
        assert_eq!(index.find(index.hash("a"), |_| true), None);
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
    }
}
