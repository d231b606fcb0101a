//! `AssetCache<T>`: the Python original's API over a store that is kept equal
//! to what the backend stores, under the backend's inter-process lock.
//!
//! Every write takes the exclusive lock, brings memory up to date with
//! storage (another process may have written since), writes, and only then
//! changes memory. Reads (`get`, `get_all`, `has_valid_cache`) are served from
//! memory, as in the original; `load` brings memory up to date.
//!
//! # Locks, and the order they are taken
//!
//! This is the one place that lists every lock; change it with the code.
//! Five locks, always taken in this order and released in reverse, so no
//! two calls can each hold one the other waits for:
//!
//! 1. **I/O mutex** (`AssetCache::backend`, a `std::sync::Mutex`): one thread
//!    of this handle at a time talks to storage (`load`, every write,
//!    `invalidate`). In-process only; held for the whole call.
//! 2. **Turnstile** (file backend, `backend/file/lock.rs`): an OFD byte-range
//!    lock on the first byte of `<name>.lock`. A writer takes it exclusive,
//!    a reader shared, and each keeps it until it holds 3 (and 4), then lets
//!    it go. flock has no queue; this is what
//!    keeps back-to-back readers from starving a writer, and a writer
//!    writing in a loop from starving readers.
//! 3. **Lock-file flock** on `<name>.lock` (shared to read, exclusive to
//!    write), the Python original's own lock (`filelock`), then the check
//!    that the descriptor still names the file at the path (if not, 3 is
//!    retaken on the file there now).
//! 4. **Folder announcement**: once 3 is granted, a shared OFD byte-range
//!    lock on the folder at an offset hashed from the name (one byte for
//!    readers, one for writers), then a check that no other process
//!    announces a conflicting mode on that name. It is never waited for: on
//!    a conflict (a holder of a deleted or replaced lock file) 2-4 are let
//!    go and retaken after a pause. It keeps two processes of
//!    this library from both holding the lock when the lock file is swapped
//!    under a holder (Python's `invalidate`); caches sharing a folder never
//!    wait for each other.
//! 5. **Store lock** (`AssetCache::store`, crossbeam-utils' `ShardedLock`):
//!    innermost and short. `get` and the other readers take only this one
//!    (read side, their thread's shard). A write takes its write side only
//!    after its storage I/O has finished, to change memory; nobody waits for
//!    1-4 while holding it.
//!
//! Waits for 2 and 3 (and the retries after 4) share one deadline, the lock
//! timeout; on timeout the call fails with `LockTimeout` and holds nothing.
//! `load` that finds a torn record or an expired file lets 2-4 go and retakes them exclusive,
//! still holding 1. The Redis backend takes none of 2-4 (each write is one
//! atomic script on the server; see `backend/redis`); 1 and 5 stay.
//!
//! 2-4 are taken on descriptors the backend keeps open between calls (the
//! folder's and the lock file's; issue 11) and released explicitly
//! (`LOCK_UN`, `F_UNLCK`), never by closing them.
//!
//! Beside them, `fork()` (see `fork.rs`): opening a descriptor for 2-4 and
//! listing it, and unlisting and closing it, are each one step that a
//! `fork()` in another thread waits for (an atfork prepare handler). A step
//! is one `open` or `close` and never waits for any of 1-5, so a fork waits
//! at most that long. A child points its copies of listed descriptors at
//! `/dev/null`, so it never shares a lock its parent takes later. In a child made by `fork()`, the C API refuses a
//! handle from the parent before taking any of 1-5.

use std::borrow::Cow;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crossbeam_utils::sync::{ShardedLock, ShardedLockReadGuard, ShardedLockWriteGuard};

use crate::asset::Asset;
use crate::backend::any::AnyBackend;
use crate::backend::file::FileBackend;
use crate::backend::{Backend, Change, Claimer, Edit};
use crate::error::{Error, ErrorKind, Result};
use crate::expiry;
use crate::store::{Store, StoreBuilder};

use crate::options::{validate_name, Options};

/// A persistent, expiring cache of assets keyed by id, shared safely by
/// threads (it is `Sync`) and by processes (through the backend's lock).
///
/// Do not use one in a child made by `fork()`: another thread of the parent
/// may have held its in-process locks at the fork, and nobody in the child
/// can release them. Open a new one in the child. (The C API detects this
/// and refuses the inherited handle with `INVALID_ARGUMENT`; a child never
/// keeps the parent's file locks either way, see `fork.rs`.)
pub struct AssetCache<T, B = FileBackend> {
    ttl: Duration,
    /// The I/O mutex: one thread at a time talks to storage for this handle.
    backend: Mutex<B>,
    /// Read by every `get`. Sharded: a reader locks its thread's shard only,
    /// so readers on different cores do not pass one lock word back and
    /// forth; a (rare) writer locks every shard.
    store: ShardedLock<Store<T>>,
    /// How get-or-fetch and refresh-all claim a fetch (single-flight).
    claimer: Claimer,
    /// Bounds the wait for another caller's fetch.
    lock_timeout: Option<Duration>,
    stale_if_error: Option<Duration>,
    /// The size cap: the most recently written N assets are kept.
    max_entries: Option<usize>,
    /// Fresh reads (`Options::max_staleness`), when on.
    fresh: Option<crate::fresh::Freshness>,
    /// The last expired store this handle dropped, kept for stale-if-error
    /// (only when that is on: it costs the memory).
    expired: Mutex<Option<Store<T>>>,
}

/// What an open takes from [`Options`] besides the backend's own settings.
struct Behaviour {
    ttl: Duration,
    lock_timeout: Option<Duration>,
    stale_if_error: Option<Duration>,
    max_entries: Option<usize>,
    max_staleness: Option<Duration>,
}

impl Behaviour {
    fn of(options: &Options) -> Result<Self> {
        Ok(Behaviour {
            ttl: match options.ttl {
                Some(ttl) => expiry::check_ttl(ttl)?,
                None => expiry::ttl_from_env(),
            },
            lock_timeout: options.lock_timeout,
            stale_if_error: options.stale_if_error,
            max_entries: match options.max_entries {
                Some(0) => None,
                Some(n) => Some(n),
                None => expiry::max_entries_from_env(),
            },
            max_staleness: options.max_staleness,
        })
    }
}

impl<T: Asset> AssetCache<T, FileBackend> {
    /// Opens the cache `name` in `.cache`, like `AssetCache(cls, name)`.
    pub fn new(name: &str) -> Result<Self> {
        Self::open(Options::new(name))
    }

    /// Opens a cache and loads its file, if there is one. Opening never
    /// creates files; the first write does.
    pub fn open(options: Options) -> Result<Self> {
        crate::log::read_env();
        validate_name(&options.name)?;
        if options.dir.as_os_str().is_empty() {
            return Err(Error::invalid_argument("cache folder is an empty path"));
        }
        options.validate_modes()?;
        let behaviour = Behaviour::of(&options)?;
        let backend = FileBackend::new(
            options.dir,
            options.name,
            options.lock_timeout,
            options.durable,
        )
        .with_modes(options.file_mode, options.dir_mode);
        Self::with_backend(backend, behaviour)
    }
}

impl<T: Asset> AssetCache<T, AnyBackend> {
    /// Opens a cache on the backend the options choose: Redis when
    /// [`Options::backend_url`] is set, else the file backend (as
    /// [`AssetCache::open`]). A server that cannot be reached gives
    /// [`ErrorKind::BackendUnavailable`], one that refuses (credentials, a
    /// key of another type at the cache's key names) [`ErrorKind::Backend`],
    /// a URL that does not parse [`ErrorKind::InvalidArgument`].
    ///
    /// ```no_run
    /// use asset_cache::{AnyBackend, AssetCache, Options};
    /// let cache: AssetCache<serde_json::Value, AnyBackend> = AssetCache::open_any(
    ///     Options::new("model")
    ///         .backend_url("redis://:password@cache-host:6379/0")
    ///         .backend_timeout(std::time::Duration::from_secs(2)),
    /// )?;
    /// cache.add(serde_json::json!({"id": "m1"}))?;
    /// # Ok::<(), asset_cache::Error>(())
    /// ```
    pub fn open_any(options: Options) -> Result<Self> {
        crate::log::read_env();
        validate_name(&options.name)?;
        let behaviour = Behaviour::of(&options)?;
        let backend = match &options.backend_url {
            #[cfg(feature = "redis")]
            Some(url) => AnyBackend::Redis(Box::new(
                crate::backend::redis::RedisBackend::new(
                    url,
                    &options.name,
                    options.backend_timeout,
                    behaviour.ttl,
                )?
                .with_max_entries(behaviour.max_entries),
            )),
            #[cfg(not(feature = "redis"))]
            Some(_) => {
                return Err(Error::invalid_argument(
                    "this build has no Redis backend (built without the `redis` feature)",
                ))
            }
            None => {
                if options.dir.as_os_str().is_empty() {
                    return Err(Error::invalid_argument("cache folder is an empty path"));
                }
                options.validate_modes()?;
                AnyBackend::File(
                    FileBackend::new(
                        options.dir,
                        options.name,
                        options.lock_timeout,
                        options.durable,
                    )
                    .with_modes(options.file_mode, options.dir_mode),
                )
            }
        };
        Self::with_backend(backend, behaviour)
    }
}

impl<T: Asset, B: Backend<T>> AssetCache<T, B> {
    /// A cache over `backend`, whose new stores live `ttl`; loads what it
    /// stores.
    fn with_backend(backend: B, behaviour: Behaviour) -> Result<Self> {
        let ttl = behaviour.ttl;
        let cache = AssetCache {
            ttl,
            claimer: backend.claimer(),
            fresh: behaviour
                .max_staleness
                .map(|bound| crate::fresh::Freshness::new(bound, backend.watched_file())),
            backend: Mutex::new(backend),
            store: ShardedLock::new(Store::new(expiry::expiry_from(expiry::now(), ttl))),
            lock_timeout: behaviour.lock_timeout,
            stale_if_error: behaviour.stale_if_error,
            max_entries: behaviour.max_entries,
            expired: Mutex::new(None),
        };
        cache.load()?;
        Ok(cache)
    }

    /// Runs `f` on the asset, if present and the store has not expired,
    /// without copying it.
    pub fn with_asset<R>(&self, id: &str, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.freshen();
        let store = self.read_store();
        if store.is_expired() {
            return None;
        }
        store.get(id).map(f)
    }

    /// A copy of the asset, if present and not expired.
    pub fn get(&self, id: &str) -> Option<T>
    where
        T: Clone,
    {
        self.with_asset(id, T::clone)
    }

    /// Runs `f` on every asset in insertion order (none when expired).
    pub fn with_all<R>(&self, f: impl FnOnce(&mut dyn ExactSizeIterator<Item = &T>) -> R) -> R {
        self.freshen();
        let store = self.read_store();
        if store.is_expired() {
            return f(&mut std::iter::empty::<&T>());
        }
        let mut values = store.values();
        f(&mut values)
    }

    /// Copies of all assets in insertion order (empty when expired).
    pub fn get_all(&self) -> Vec<T>
    where
        T: Clone,
    {
        self.with_all(|it| it.cloned().collect())
    }

    /// True when `id` is cached and the store has not expired (the SDK's
    /// `id in cache`).
    pub fn contains(&self, id: &str) -> bool {
        self.with_asset(id, |_| ()).is_some()
    }

    /// The ids in insertion order (none when expired).
    pub fn ids(&self) -> Vec<String> {
        self.freshen();
        let store = self.read_store();
        if store.is_expired() {
            return Vec::new();
        }
        store.iter().map(|(id, _)| id.to_string()).collect()
    }

    /// True when the store has not expired and holds at least one asset.
    pub fn has_valid_cache(&self) -> bool {
        self.freshen();
        let store = self.read_store();
        !store.is_expired() && !store.is_empty()
    }

    /// The store's expiry, in Unix seconds.
    pub fn expiry(&self) -> f64 {
        self.read_store().expiry()
    }

    /// Assets in memory (including those of an expired store, until the next
    /// `load` or write drops them).
    pub fn len(&self) -> usize {
        self.read_store().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Brings memory up to date with storage. Nothing stored gives an empty
    /// store; an expired one is deleted; an unreadable file is moved aside to
    /// `<name>.json.corrupt` and the store starts empty.
    pub fn load(&self) -> Result<()> {
        let mut backend = self.lock_io();
        let mut shared = backend.read_lock()?;
        let change = backend.sync_read(&mut shared, &self.read_store())?;
        if let Some(change) = change {
            self.apply(change);
            if !self.read_store().is_expired() || !backend.is_stored() {
                self.reset_if_expired();
                return Ok(());
            }
        }
        // A torn record to repair or an expired store to delete: a writer's job.
        drop(shared);
        let mut exclusive = backend.write_lock()?;
        self.sync(&mut backend, &mut exclusive)
    }

    /// Adds (or replaces) one asset and persists it before returning. The
    /// store keeps its expiry, unless it has expired: then a fresh store is
    /// started, so the write is not thrown away by the next load.
    pub fn add(&self, asset: T) -> Result<()> {
        let id = asset_id(&asset, None)?;
        self.add_with_id(id, asset)
    }

    /// `add` under a key of the caller's choice, which need not be the
    /// asset's own id: a lookup by slug answered with the canonical asset
    /// (the SDK development branch's `add(asset, key=...)`). Also `add` for a
    /// caller that already knows the id (checked once, by the caller; here
    /// only for being empty).
    pub fn add_with_id(&self, id: String, asset: T) -> Result<()> {
        if id.is_empty() {
            return Err(Error::new(ErrorKind::MissingId, "asset id is empty"));
        }
        // Memory changes inside the write, under the I/O mutex: another thread's
        // write in between would otherwise rewrite storage from a memory
        // that lacks this asset.
        self.write(move |cache, backend, lock| cache.add_locked(backend, lock, id, asset))
    }

    /// One add under the exclusive lock: an append, or, when the size cap
    /// must drop assets (or move a re-added one to the newest place), a
    /// rewrite without them.
    fn add_locked(
        &self,
        backend: &mut B,
        lock: &mut B::WriteLock,
        id: String,
        asset: T,
    ) -> Result<()> {
        let capped = self.max_entries.filter(|_| !backend.caps_on_append());
        let capped = capped.and_then(|cap| {
            let store = self.read_store();
            let len = store.len();
            let at = store.index_of(&id);
            let others = len - usize::from(at.is_some());
            let over = (others + 1).saturating_sub(cap);
            let moves = at.is_some_and(|p| p + 1 != len);
            (over > 0 || moves).then_some(over)
        });
        let Some(over) = capped else {
            let change = backend.append(lock, &self.read_store(), &id, &asset)?;
            match change {
                None => self.write_store().insert(id, asset),
                Some(change) => self.apply(change),
            }
            return Ok(());
        };
        // Keep every asset but `id` and the `over` oldest, then `id` last.
        let keeper = || {
            let mut seen = 0;
            let id = id.clone();
            move |_: usize, k: &str| {
                if k == id {
                    return false;
                }
                seen += 1;
                seen > over
            }
        };
        backend.rewrite_filtered(lock, &self.read_store(), &mut keeper(), Some((&id, &asset)))?;
        let mut store = self.write_store();
        store.retain(keeper());
        store.insert(id, asset);
        Ok(())
    }

    /// Adds several assets in one write (one hold of the lock: no reader sees
    /// some of them without the others), keeping every other asset: the SDK
    /// development branch's `add_many`. Ids are checked before anything is
    /// written; should storage fail part-way (disk full), the assets before
    /// the failing one stay stored and the error names the index.
    pub fn add_many(&self, assets: Vec<T>) -> Result<()> {
        let pairs = assets
            .into_iter()
            .enumerate()
            .map(|(i, a)| asset_id(&a, Some(i)).map(|id| (id, a)))
            .collect::<Result<Vec<_>>>()?;
        self.add_pairs(pairs)
    }

    /// `add_many` with the keys given (see `add_with_id`).
    pub fn add_pairs(&self, pairs: Vec<(String, T)>) -> Result<()> {
        if let Some(i) = pairs.iter().position(|(id, _)| id.is_empty()) {
            return Err(Error::new(
                ErrorKind::MissingId,
                format!("asset at index {i} has an empty id"),
            ));
        }
        if pairs.is_empty() {
            return Ok(());
        }
        self.write(move |cache, backend, lock| {
            for (i, (id, asset)) in pairs.into_iter().enumerate() {
                cache
                    .add_locked(backend, lock, id, asset)
                    .map_err(|e| Error::new(e.kind(), format!("asset at index {i}: {e}")))?;
            }
            Ok(())
        })
    }

    /// Removes one asset (a model deleted or changed on the service) from
    /// storage, then from memory; true when it was stored. The file is
    /// rewritten whole (temporary file and rename), so it stays readable by
    /// the Python original at every instant: there is no tombstone record.
    /// On Redis it is one script (`remove.lua`: `HDEL`, `LREM`, a removal
    /// entry in the log that other hosts' loads replay), and true when the
    /// server held the id, even if this handle had not loaded it yet.
    pub fn remove(&self, id: &str) -> Result<bool> {
        if id.is_empty() {
            return Err(Error::new(ErrorKind::MissingId, "asset id is empty"));
        }
        let mut removed = false;
        self.write(|cache, backend, lock| {
            let (was_stored, change) = backend.remove(lock, &cache.read_store(), id)?;
            match change {
                None if was_stored => {
                    cache.write_store().remove(id);
                }
                None => {}
                Some(change) => cache.apply(change),
            }
            removed = was_stored;
            Ok(())
        })?;
        Ok(removed)
    }

    /// Replaces the whole cache by `assets` (the last of equal ids wins, at the
    /// position of the first), with a fresh expiry.
    pub fn add_list(&self, assets: Vec<T>) -> Result<()> {
        let pairs = assets
            .into_iter()
            .enumerate()
            .map(|(i, a)| asset_id(&a, Some(i)).map(|id| (id, a)))
            .collect::<Result<Vec<_>>>()?;
        self.replace_all(pairs)
    }

    /// `add_list` for a caller that already knows the ids.
    pub fn replace_all(&self, pairs: Vec<(String, T)>) -> Result<()> {
        if let Some(i) = pairs.iter().position(|(id, _)| id.is_empty()) {
            return Err(Error::new(
                ErrorKind::MissingId,
                format!("asset at index {i} has an empty id"),
            ));
        }
        let mut store = pairs
            .into_iter()
            .collect::<StoreBuilder<T>>()
            .with_expiry(self.fresh_expiry());
        if let Some(cap) = self.max_entries {
            let over = store.len().saturating_sub(cap);
            store.retain(|i, _| i >= over);
        }
        self.write(move |cache, backend, lock| {
            backend.rewrite(lock, &store)?;
            *cache.write_store() = store;
            Ok(())
        })
    }

    /// Rewrites storage from the current state: compacts superseded records
    /// and converts a file in the Python original's layout to ours.
    pub fn save(&self) -> Result<()> {
        self.write(|cache, backend, lock| backend.save(lock, &cache.read_store()))
    }

    /// Empties the cache and deletes what is stored.
    pub fn invalidate(&self) -> Result<()> {
        let mut backend = self.lock_io();
        backend.invalidate()?;
        self.reset();
        // Thrown away on purpose: nothing to serve stale.
        *self.expired.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(())
    }

    // ---- for single_flight ----

    pub(crate) fn claimer(&self) -> &Claimer {
        &self.claimer
    }

    pub(crate) fn lock_timeout(&self) -> Option<Duration> {
        self.lock_timeout
    }

    pub(crate) fn stale_if_error(&self) -> Option<Duration> {
        self.stale_if_error
    }

    /// Runs `f` on the expired store this handle still knows: memory, if it
    /// has expired and not been dropped yet, else the last one dropped.
    pub(crate) fn with_expired_store<R>(
        &self,
        f: impl FnOnce(&Store<T>) -> Option<R>,
    ) -> Option<R> {
        {
            let store = self.read_store();
            if store.is_expired() && !store.is_empty() {
                return f(&store);
            }
        }
        let expired = self.expired.lock().unwrap_or_else(PoisonError::into_inner);
        expired.as_ref().and_then(f)
    }

    // ---- under the I/O mutex and the backend's lock ----

    /// Runs one write under the exclusive lock, after bringing memory up to
    /// date with storage (for a backend that needs it: see
    /// [`Backend::syncs_before_write`]).
    fn write(&self, op: impl FnOnce(&Self, &mut B, &mut B::WriteLock) -> Result<()>) -> Result<()> {
        let mut backend = self.lock_io();
        let mut lock = backend.write_lock()?;
        if backend.syncs_before_write() {
            self.sync(&mut backend, &mut lock)?;
        }
        op(self, &mut backend, &mut lock)
    }

    /// Brings memory up to date under the exclusive lock; an expired store is
    /// deleted from storage and memory starts afresh.
    fn sync(&self, backend: &mut B, lock: &mut B::WriteLock) -> Result<()> {
        let change = backend.sync(lock, &self.read_store())?;
        self.apply(change);
        if self.read_store().is_expired() && backend.is_stored() {
            backend.remove_expired(lock)?;
            self.reset();
        }
        self.reset_if_expired();
        Ok(())
    }

    fn apply(&self, change: Change<T>) {
        match change {
            Change::Unchanged => {}
            Change::Added(pairs) => {
                let mut store = self.write_store();
                for (id, asset) in pairs {
                    store.insert(id, asset);
                }
            }
            Change::Edited(edits) => Edit::apply_all(&mut self.write_store(), edits),
            Change::Whole(store) => self.replace_memory(store),
            Change::Gone => self.reset(),
        }
    }

    /// An expired store with nothing stored behind it starts afresh.
    fn reset_if_expired(&self) {
        if self.read_store().is_expired() {
            self.reset();
        }
    }

    fn fresh_expiry(&self) -> f64 {
        expiry::expiry_from(expiry::now(), self.ttl)
    }

    /// Memory becomes a fresh empty store. An expired one it replaces is kept
    /// for stale-if-error, when that is on.
    fn reset(&self) {
        self.replace_memory(Store::new(self.fresh_expiry()));
    }

    fn replace_memory(&self, store: Store<T>) {
        let old = std::mem::replace(&mut *self.write_store(), store);
        if self.stale_if_error.is_some() && old.is_expired() && !old.is_empty() {
            *self.expired.lock().unwrap_or_else(PoisonError::into_inner) = Some(old);
        }
    }

    /// With fresh reads on, brings memory up to date when the bound has
    /// passed and storage changed (see `fresh.rs`); a no-op otherwise.
    #[inline]
    fn freshen(&self) {
        if let Some(fresh) = &self.fresh {
            fresh.check(|| self.load());
        }
    }

    fn lock_io(&self) -> MutexGuard<'_, B> {
        let arrived = std::time::Instant::now();
        let mut backend = self.backend.lock().unwrap_or_else(|e| e.into_inner());
        backend.arrived(arrived);
        backend
    }

    /// A poisoned lock is used anyway: the store is only ever replaced whole
    /// or changed by operations that cannot leave it torn.
    fn read_store(&self) -> ShardedLockReadGuard<'_, Store<T>> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_store(&self) -> ShardedLockWriteGuard<'_, Store<T>> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn asset_id<T: Asset>(asset: &T, index: Option<usize>) -> Result<String> {
    asset.id().map(Cow::into_owned).ok_or_else(|| {
        let at = index.map(|i| format!(" at index {i}")).unwrap_or_default();
        Error::new(
            ErrorKind::MissingId,
            format!("asset{at} has no non-empty string \"id\""),
        )
    })
}
