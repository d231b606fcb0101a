//! The in-memory store: assets by id in insertion order, plus the expiry.

use crate::asset::{sealed::Hook, Asset, RawAsset};
use crate::index::{Bulk, Index};
use crate::memory;

/// Assets keyed by id, in insertion order, with the Unix time (seconds) at
/// which the whole store expires.
///
/// Replacing an existing id keeps its position, as a Python dict does, so
/// `get_all` lists assets in the same order as the Python original would.
#[derive(Debug, Clone)]
pub struct Store<T> {
    entries: Vec<(Key, T)>,
    index: Index,
    expiry: f64,
    kept: Vec<Kept>,
}

/// A record of the file whose id has no UTF-8 form (a lone surrogate escape,
/// `"scan-\udcff.bin"`, which Python writes for a name from
/// `os.fsdecode`). It cannot be looked up, so it is not among the assets;
/// it is kept as it was and written back by every rewrite, so that a
/// Python reader still finds it.
#[derive(Debug, Clone)]
pub struct Kept {
    /// The id as JSON text, quotes included, e.g. `"scan-\udcff.bin"`.
    pub id_json: String,
    /// The asset, as JSON text.
    pub asset: RawAsset,
}

/// An id, kept inside the entry when short (aiXplain ids are 24 characters)
/// so that checking a lookup's match does not chase one more pointer.
#[derive(Clone)]
enum Key {
    Inline(u8, [u8; INLINE]),
    Heap(Box<str>),
}

const INLINE: usize = 30;

impl Key {
    fn new(id: String) -> Key {
        match u8::try_from(id.len()) {
            Ok(len) if id.len() <= INLINE => {
                let mut buf = [0; INLINE];
                buf[..id.len()].copy_from_slice(id.as_bytes());
                Key::Inline(len, buf)
            }
            _ => Key::Heap(id.into_boxed_str()),
        }
    }

    fn into_string(self) -> String {
        match self {
            Key::Heap(s) => s.into(),
            other => other.as_str().to_string(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // SAFETY: the bytes were copied from a `String` in `new`, whole.
            Key::Inline(len, buf) => unsafe {
                std::str::from_utf8_unchecked(&buf[..*len as usize])
            },
            Key::Heap(s) => s,
        }
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

impl<T: Asset> Store<T> {
    pub fn new(expiry: f64) -> Self {
        Store {
            entries: Vec::new(),
            index: Index::default(),
            expiry,
            kept: Vec::new(),
        }
    }

    /// The records kept as they were because their id has no UTF-8 form.
    pub fn kept(&self) -> &[Kept] {
        &self.kept
    }

    pub(crate) fn set_kept(&mut self, kept: Vec<Kept>) {
        self.kept = kept;
    }

    fn position(&self, hash: u64, id: &str) -> Option<usize> {
        self.index
            .find(hash, |pos| self.entries[pos].0.as_str() == id)
    }

    pub fn expiry(&self) -> f64 {
        self.expiry
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&T> {
        let pos = self.position(self.index.hash(id), id)?;
        Some(&self.entries[pos].1)
    }

    /// The position of `id` in insertion order.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.position(self.index.hash(id), id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.position(self.index.hash(id), id).is_some()
    }

    /// Inserts or replaces; a replaced asset keeps its position.
    pub fn insert(&mut self, id: String, asset: T) {
        let hash = self.index.hash(&id);
        match self.position(hash, &id) {
            Some(pos) => {
                self.index.set_bulk(hash, pos, bulk(&asset));
                self.entries[pos].1 = asset
            }
            None => {
                let entries = &self.entries;
                self.index
                    .insert(hash, entries.len(), bulk(&asset), |p| entries[p].0.as_str());
                if self.entries.len() == self.entries.capacity() {
                    // Grown by hand rather than by `push`, so that a large
                    // list gets huge pages from its first write.
                    let mut bigger = memory::vec_with_capacity(self.entries.len().max(4) * 2);
                    bigger.append(&mut self.entries);
                    self.entries = bigger;
                }
                self.entries.push((Key::new(id), asset));
            }
        }
    }

    /// Keeps the entries for which `keep(position, id)` is true, in order,
    /// and rebuilds the index (entries are never removed one by one: see
    /// `index`). O(n): for `remove` and the size cap, not for every read.
    pub fn retain(&mut self, mut keep: impl FnMut(usize, &str) -> bool) {
        let entries = std::mem::take(&mut self.entries);
        let mut fresh = Store::new(self.expiry);
        // Records kept as they were read (ids that are not valid UTF-8) stay.
        fresh.kept = std::mem::take(&mut self.kept);
        for (i, (id, asset)) in entries.into_iter().enumerate() {
            if keep(i, id.as_str()) {
                fresh.insert(id.into_string(), asset);
            }
        }
        *self = fresh;
    }

    /// Removes `id`; true when it was there.
    pub fn remove(&mut self, id: &str) -> bool {
        if !self.contains(id) {
            return false;
        }
        self.retain(|_, k| k != id);
        true
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &T)> {
        self.entries.iter().map(|(id, a)| (id.as_str(), a))
    }

    pub fn values(&self) -> impl ExactSizeIterator<Item = &T> {
        self.entries.iter().map(|(_, a)| a)
    }

    /// True when `now` (Unix seconds) is past the expiry; same rule as the
    /// Python original (`expiry < time.time()`).
    pub fn is_expired_at(&self, now: f64) -> bool {
        self.expiry < now
    }

    /// True when the expiry has passed, by the clock now.
    pub fn is_expired(&self) -> bool {
        crate::expiry::has_passed(self.expiry)
    }
}

fn bulk<T: Asset>(asset: &T) -> Bulk {
    let (addr, len) = asset.bulk(Hook);
    Bulk { addr, len }
}

impl<T: Asset> FromIterator<(String, T)> for StoreBuilder<T> {
    fn from_iter<I: IntoIterator<Item = (String, T)>>(iter: I) -> Self {
        let mut b = StoreBuilder {
            store: Store::new(0.0),
        };
        for (id, a) in iter {
            b.store.insert(id, a);
        }
        b
    }
}

/// Collects `(id, asset)` pairs with Python dict semantics (first position,
/// last value), then takes the expiry.
pub struct StoreBuilder<T> {
    store: Store<T>,
}

impl<T: Asset> StoreBuilder<T> {
    pub fn with_expiry(mut self, expiry: f64) -> Store<T> {
        self.store.expiry = expiry;
        self.store
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replacing_keeps_position_and_last_value() {
        let s = [("a", 1), ("b", 2), ("a", 3)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect::<StoreBuilder<_>>()
            .with_expiry(10.0);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![("a", &json!(3)), ("b", &json!(2))]
        );
        assert_eq!(s.get("a"), Some(&json!(3)));
        assert!(s.get("c").is_none());
        assert!(s.contains("b") && !s.contains("c"));
        assert!(!s.is_expired_at(10.0));
        assert!(s.is_expired_at(10.5));
    }

    #[test]
    fn short_and_long_ids_are_found() {
        let ids: Vec<String> = (0..200)
            .map(|i| "x".repeat(i % 40 + 1) + &i.to_string())
            .collect();
        let mut s = Store::new(0.0);
        for (i, id) in ids.iter().enumerate() {
            s.insert(id.clone(), json!(i));
        }
        s.insert(ids[5].clone(), json!(1000));
        assert_eq!(s.len(), 200);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(
                s.get(id),
                Some(&json!(if i == 5 { 1000 } else { i })),
                "{id}"
            );
        }
        assert_eq!(s.iter().nth(5), Some((ids[5].as_str(), &json!(1000))));
        assert!(s.get(&"x".repeat(31)).is_none());
    }
}
