//! Storage backends: where a cache's assets live between processes.
//!
//! [`AssetCache`](crate::AssetCache) keeps the in-memory [`Store`] and the
//! in-process locks; a backend keeps the stored copy and the inter-process
//! lock, and tells the cache how memory must change to equal what is stored.
//! The file backend ([`file::FileBackend`], the Python original's
//! `<name>.json` and `<name>.lock`) is the first implementation; a second one
//! (Redis) plugs in beside it without the cache's operations changing.
//!
//! Every call of a backend is made under the cache's I/O mutex, so a backend
//! is used by one thread at a time and may keep what it knows of the stored
//! version in `self`. A write is one lock hold:
//!
//! ```text
//! write_lock -> sync (memory catches up) -> append | rewrite | remove -> drop lock
//! ```
//!
//! A read is `read_lock -> sync_read`; when that cannot finish without writing
//! (a torn record to repair), the cache starts over with `write_lock -> sync`.

pub mod any;
pub mod file;
#[cfg(feature = "redis")]
pub mod redis;

use std::path::PathBuf;
use std::time::Duration;

use crate::asset::Asset;
use crate::error::{Error, Result};
use crate::store::Store;

/// How the caches of a backend claim a fetch for single-flight (see
/// `single_flight`). Claims are taken outside the I/O mutex: a claim is
/// waited for across another caller's whole fetch, and that caller needs the
/// mutex to store what it fetched.
#[derive(Debug, Clone)]
pub enum Claimer {
    /// OFD byte-range locks on the cache's lock file, in its folder (see
    /// `backend/file/claim.rs`): the whole host, every language.
    File {
        dir: PathBuf,
        lock_path: PathBuf,
        file_mode: u32,
        dir_mode: u32,
        durable: bool,
    },
    /// `SET NX PX` keys with a renewed lease on the cache's server (see
    /// `backend/redis/claim.rs`): every host sharing the server.
    #[cfg(feature = "redis")]
    Redis(std::sync::Arc<redis::claim::RedisClaimer>),
}

/// A held claim (see [`Claimer`]); dropping it releases it.
#[derive(Debug)]
pub struct Claim(#[allow(dead_code)] Held);

/// Held only to be dropped (which releases it).
#[derive(Debug)]
#[allow(dead_code)]
enum Held {
    File(file::claim::Claim),
    #[cfg(feature = "redis")]
    Redis(redis::claim::RedisClaim),
}

impl Claimer {
    /// Claims `target`, waiting up to `wait` (`None`: forever; zero: one
    /// try, `LockTimeout` when another holds it). `Ok(None)`: the wait
    /// ended because what the claim is for is stored now (only a backend
    /// that can tell cheaply says so, and only with `done_check`): the
    /// caller loads it instead of fetching.
    pub fn claim(
        &self,
        target: file::claim::Target<'_>,
        wait: Option<Duration>,
        done_check: bool,
    ) -> Result<Option<Claim>> {
        match self {
            Claimer::File {
                dir,
                lock_path,
                file_mode,
                dir_mode,
                durable,
            } => {
                let _ = done_check;
                file::io::create_folder(dir, *dir_mode, *durable)?;
                file::claim::acquire(lock_path, target, wait, *file_mode)
                    .map(|c| Some(Claim(Held::File(c))))
            }
            #[cfg(feature = "redis")]
            Claimer::Redis(claimer) => Ok(match claimer.claim(target, wait, done_check)? {
                redis::claim::Claimed::Held(c) => Some(Claim(Held::Redis(c))),
                redis::claim::Claimed::Done => None,
            }),
        }
    }
}

/// How memory must change to equal what is stored.
pub enum Change<T> {
    /// Memory already equals storage.
    Unchanged,
    /// Others added these records since the version memory reflects; insert
    /// them in order (a replaced id keeps its position).
    Added(Vec<(String, T)>),
    /// Others wrote and removed since the version memory reflects: apply
    /// these in order (a removal followed by a write of the same id moves
    /// it to the end).
    Edited(Vec<Edit<T>>),
    /// Storage holds this whole store: it replaces memory.
    Whole(Store<T>),
    /// Nothing is stored (deleted, never written, or kept aside as
    /// unreadable): memory starts afresh, empty.
    Gone,
}

/// One step of [`Change::Edited`].
pub enum Edit<T> {
    /// Insert or replace (a replaced id keeps its position).
    Put(String, T),
    /// Remove, if present.
    Remove(String),
}

impl<T: Asset> Edit<T> {
    /// Applies `edits` to `store` in order. Removals are gathered and done
    /// in one pass ([`Store::retain`]) when a write of a removed id needs
    /// them done, or at the end: each [`Store::remove`] rebuilds the whole
    /// store, so k removals one by one (a reader catching up on k adds to a
    /// capped store, each dropping the oldest) would cost k passes over it.
    pub(crate) fn apply_all(store: &mut Store<T>, edits: Vec<Edit<T>>) {
        let mut removed = std::collections::HashSet::new();
        for edit in edits {
            match edit {
                Edit::Remove(id) => {
                    removed.insert(id);
                }
                Edit::Put(id, asset) => {
                    // A write after its id's removal places it anew, at the
                    // end: the removal must be done first. A write of
                    // another id is placed (or replaced in place) the same
                    // either way.
                    if removed.contains(&id) {
                        Self::remove_all(store, &mut removed);
                    }
                    store.insert(id, asset);
                }
            }
        }
        Self::remove_all(store, &mut removed);
    }

    fn remove_all(store: &mut Store<T>, removed: &mut std::collections::HashSet<String>) {
        if removed.iter().any(|id| store.contains(id)) {
            store.retain(|_, id| !removed.contains(id));
        }
        removed.clear();
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A storage engine under [`AssetCache`](crate::AssetCache). Sealed: the
/// implementations are this crate's.
pub trait Backend<T: Asset>: sealed::Sealed + Send {
    /// A held shared lock on the stored cache (readers exclude writers).
    type ReadLock;
    /// A held exclusive lock, with whatever the write needs between calls.
    type WriteLock;

    /// Takes the shared lock for a read (or nothing, when nothing is stored
    /// and taking the lock would create something).
    fn read_lock(&mut self) -> Result<Self::ReadLock>;

    /// Takes the exclusive lock for a write, creating what storage needs.
    fn write_lock(&mut self) -> Result<Self::WriteLock>;

    /// What changed since the version `memory` reflects, read under a shared
    /// lock; `None` when only a writer can bring storage to a readable state
    /// (the caller then uses [`Backend::sync`] under [`Backend::write_lock`]).
    fn sync_read(
        &mut self,
        lock: &mut Self::ReadLock,
        memory: &Store<T>,
    ) -> Result<Option<Change<T>>>;

    /// What changed since the version `memory` reflects, repairing or setting
    /// aside what cannot be read.
    fn sync(&mut self, lock: &mut Self::WriteLock, memory: &Store<T>) -> Result<Change<T>>;

    /// Whether a write must first bring memory up to date under the lock.
    /// The file backend: yes (its lock excludes other writers, and an append
    /// or rewrite is computed from memory). A backend whose writes are
    /// atomic on a server and tell what others wrote meanwhile (Redis)
    /// answers no, and saves a round trip per write.
    fn syncs_before_write(&self) -> bool {
        true
    }

    /// Stores one asset added to `memory` (which does not hold it yet, or
    /// holds an older version under the same id). `None`: memory is to
    /// insert the asset; `Some(change)`: memory is to take this change
    /// instead, which holds the asset (storage had changed meanwhile, e.g.
    /// another host's adds, or a fresh store replacing an expired one).
    fn append(
        &mut self,
        lock: &mut Self::WriteLock,
        memory: &Store<T>,
        id: &str,
        asset: &T,
    ) -> Result<Option<Change<T>>>;

    /// Replaces everything stored by `store`.
    fn rewrite(&mut self, lock: &mut Self::WriteLock, store: &Store<T>) -> Result<()>;

    /// The Python original's `save`: storage rewritten from `memory` (the
    /// file backend compacts and converts the original's layout). A backend
    /// that keeps nothing to compact leaves storage as it is.
    fn save(&mut self, lock: &mut Self::WriteLock, memory: &Store<T>) -> Result<()> {
        self.rewrite(lock, memory)
    }

    /// Deletes what is stored (an expired store), under the held lock.
    fn remove_expired(&mut self, lock: &mut Self::WriteLock) -> Result<()>;

    /// Deletes what is stored, taking the exclusive lock itself (the Python
    /// original's `invalidate`).
    fn invalidate(&mut self) -> Result<()>;

    /// True when memory reflects something stored (an expired store that is
    /// stored must be deleted; one that is not only has to be forgotten).
    fn is_stored(&self) -> bool;

    /// Whether `append` applies the size cap itself (on a server, where
    /// memory may be behind): the cache then never calls `rewrite_filtered`
    /// for an add.
    fn caps_on_append(&self) -> bool {
        false
    }

    /// Removes `id` from storage. Returns whether it was stored, and `None`
    /// when memory is to remove it itself, or the change memory is to take
    /// instead (storage had changed meanwhile). Default: a rewrite without
    /// it, when memory (brought up to date under the lock) holds it.
    fn remove(
        &mut self,
        lock: &mut Self::WriteLock,
        memory: &Store<T>,
        id: &str,
    ) -> Result<(bool, Option<Change<T>>)> {
        if !memory.contains(id) {
            return Ok((false, None));
        }
        self.rewrite_filtered(lock, memory, &mut |_, k| k != id, None)?;
        Ok((true, None))
    }

    /// Stores the entries of `memory` for which `keep(position, id)` is
    /// true, in order, then `appended` (if any) at the end: what `remove`
    /// and the size cap write, so that no reader (the Python original
    /// included) ever meets a record of a dropped asset again.
    fn rewrite_filtered(
        &mut self,
        lock: &mut Self::WriteLock,
        memory: &Store<T>,
        keep: &mut dyn FnMut(usize, &str) -> bool,
        appended: Option<(&str, &T)>,
    ) -> Result<()> {
        let _ = (lock, memory, keep, appended);
        Err(Error::invalid_argument(
            "this backend cannot drop single assets yet (remove, the size cap)",
        ))
    }

    /// A file whose `stat` changes whenever what is stored changes, for fresh
    /// reads (`fresh.rs`); `None`: reads then load once per bound.
    fn watched_file(&self) -> Option<PathBuf> {
        None
    }

    /// How callers claim a fetch (single-flight).
    fn claimer(&self) -> Claimer;

    /// Called by the cache each time it takes its I/O mutex, with the
    /// instant it started waiting for it: a backend on a server fails a call
    /// at once if the server stopped answering a call ahead of it meanwhile
    /// (see `redis/conn.rs`), so that queued calls do not each wait a
    /// timeout of their own. Default: nothing.
    fn arrived(&mut self, _at: std::time::Instant) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn ids(s: &Store<Value>) -> Vec<&str> {
        s.iter().map(|(id, _)| id).collect()
    }

    /// Checked to fail: with the removals done only at the end (no flush
    /// before a write of a removed id), "c" kept its old place (c, d, e,
    /// a) instead of moving to the end; with the set never cleared, "a",
    /// written after its removal, was removed again at the end.
    #[test]
    fn edits_apply_in_order_with_removals_gathered() {
        let mut s = Store::new(0.0);
        for id in ["a", "b", "c", "d"] {
            s.insert(id.to_string(), json!({"id": id, "v": 1}));
        }
        let put = |id: &str| Edit::Put(id.to_string(), json!({"id": id, "v": 2}));
        let rm = |id: &str| Edit::Remove(id.to_string());
        // The size cap's shapes: drop the oldest, move a replaced id to the
        // newest place, add new ids; plus a removal of an absent id.
        Edit::apply_all(
            &mut s,
            vec![
                rm("a"),
                put("e"),
                rm("b"),
                rm("c"),
                put("c"),
                rm("zz"),
                put("a"),
                put("d"),
            ],
        );
        assert_eq!(ids(&s), ["d", "e", "c", "a"]);
        assert_eq!(s.get("d").unwrap()["v"], 2, "replaced in place");
        assert!(!s.contains("b"));
        Edit::apply_all(&mut s, vec![rm("d"), rm("e")]);
        assert_eq!(ids(&s), ["c", "a"]);
    }
}
