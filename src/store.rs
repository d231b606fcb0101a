//! The in-memory store: assets by id in insertion order, plus the expiry.

use std::collections::HashMap;

/// Assets keyed by id, in insertion order, with the Unix time (seconds) at
/// which the whole store expires.
///
/// Replacing an existing id keeps its position, as a Python dict does, so
/// `get_all` lists assets in the same order as the Python original would.
#[derive(Debug, Clone)]
pub struct Store<T> {
    entries: Vec<(String, T)>,
    index: HashMap<String, usize>,
    expiry: f64,
}

impl<T> Store<T> {
    pub fn new(expiry: f64) -> Self {
        Store {
            entries: Vec::new(),
            index: HashMap::new(),
            expiry,
        }
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
        self.index.get(id).map(|&i| &self.entries[i].1)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// Inserts or replaces; a replaced asset keeps its position.
    pub fn insert(&mut self, id: String, asset: T) {
        match self.index.get(&id) {
            Some(&i) => self.entries[i].1 = asset,
            None => {
                self.index.insert(id.clone(), self.entries.len());
                self.entries.push((id, asset));
            }
        }
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
}

impl<T> FromIterator<(String, T)> for StoreBuilder<T> {
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

impl<T> StoreBuilder<T> {
    pub fn with_expiry(mut self, expiry: f64) -> Store<T> {
        self.store.expiry = expiry;
        self.store
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_keeps_position_and_last_value() {
        let s = [("a", 1), ("b", 2), ("a", 3)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<StoreBuilder<_>>()
            .with_expiry(10.0);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![("a", &3), ("b", &2)]);
        assert_eq!(s.get("a"), Some(&3));
        assert!(s.get("c").is_none());
        assert!(!s.is_expired_at(10.0));
        assert!(s.is_expired_at(10.5));
    }
}
