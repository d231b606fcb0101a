//! `AssetCache<T>`: the Python original's API over a store that is kept equal
//! to the file under the inter-process lock.
//!
//! Every write takes the exclusive lock, brings memory up to date with the file
//! (another process may have written since), writes, and only then changes
//! memory. Reads (`get`, `get_all`, `has_valid_cache`) are served from memory,
//! as in the original; `load` brings memory up to date.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::asset::Asset;
use crate::brlock::{BrLock, ReadGuard, WriteGuard};
use crate::error::{Error, ErrorKind, Result};
use crate::expiry;
use crate::lock::{self, Held, Mode};
use crate::log;
use crate::persist::{self, Identity, Opened, TAIL};
use crate::store::{Store, StoreBuilder};

/// The Python original's cache folder, relative to the working directory.
pub const DEFAULT_DIR: &str = ".cache";

/// How long a call waits for another process's lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the cache lives and how it behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Folder of `<name>.json` and `<name>.lock`; `.cache` by default.
    pub dir: PathBuf,
    /// Base name of the files: letters, digits and `._-`, no path separator,
    /// not `.` or `..`.
    pub name: String,
    /// Lifetime of a new store; `None` reads `CACHE_EXPIRY_TIME` at open.
    pub ttl: Option<Duration>,
    /// Longest wait for the lock; `None` waits forever.
    pub lock_timeout: Option<Duration>,
    /// fsync files (and the folder after a rename) before reporting success.
    pub durable: bool,
}

impl Options {
    pub fn new(name: impl Into<String>) -> Self {
        Options {
            dir: PathBuf::from(DEFAULT_DIR),
            name: name.into(),
            ttl: None,
            lock_timeout: Some(DEFAULT_LOCK_TIMEOUT),
            durable: false,
        }
    }

    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = dir.into();
        self
    }

    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    pub fn lock_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.lock_timeout = timeout;
        self
    }

    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }
}

/// Checks a cache file base name: no way out of the folder, nothing a shell or
/// another tool would trip on.
pub fn validate_name(name: &str) -> Result<()> {
    let why = if name.is_empty() {
        Some("is empty")
    } else if name == "." || name == ".." || name.contains("..") {
        Some("contains \"..\"")
    } else if name.contains('/') || name.contains('\\') {
        Some("contains a path separator")
    } else if name.contains('\0') {
        Some("contains a NUL byte")
    } else if name.len() > 200 {
        Some("is longer than 200 bytes")
    } else if name.chars().any(|c| c.is_control()) {
        Some("contains a control character")
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::invalid_argument(format!(
            "cache name {name:?} {why}"
        ))),
        None => Ok(()),
    }
}

/// What this handle knows of the file, guarded by the I/O mutex so that one
/// thread at a time talks to the file for this handle.
struct IoState {
    /// The file version memory reflects; `None`: no file (or unknown).
    known: Option<Identity>,
    /// Folder mtime after our last write, to notice others' temp files.
    dir_stamp: Option<(i64, i64)>,
}

/// A persistent, expiring cache of assets keyed by id, shared safely by
/// threads (it is `Sync`) and by processes (through the lock file).
pub struct AssetCache<T> {
    dir: PathBuf,
    name: String,
    cache_path: PathBuf,
    lock_path: PathBuf,
    ttl: Duration,
    lock_timeout: Option<Duration>,
    durable: bool,
    io: Mutex<IoState>,
    /// Read by every `get`: a lock whose readers do not contend (see brlock).
    store: BrLock<Store<T>>,
}

/// What a read under the lock found that it could not fix in shared mode.
enum Synced {
    Done(Option<Opened>),
    NeedsExclusive,
}

impl<T: Asset> AssetCache<T> {
    /// Opens the cache `name` in `.cache`, like `AssetCache(cls, name)`.
    pub fn new(name: &str) -> Result<Self> {
        Self::open(Options::new(name))
    }

    /// Opens a cache and loads its file, if there is one. Opening never
    /// creates files; the first write does.
    pub fn open(options: Options) -> Result<Self> {
        validate_name(&options.name)?;
        if options.dir.as_os_str().is_empty() {
            return Err(Error::invalid_argument("cache folder is an empty path"));
        }
        let ttl = options.ttl.unwrap_or_else(expiry::ttl_from_env);
        let cache = AssetCache {
            cache_path: persist::cache_path(&options.dir, &options.name),
            lock_path: lock::lock_path(&options.dir, &options.name),
            dir: options.dir,
            name: options.name,
            ttl,
            lock_timeout: options.lock_timeout,
            durable: options.durable,
            io: Mutex::new(IoState {
                known: None,
                dir_stamp: None,
            }),
            store: BrLock::new(Store::new(expiry::expiry_from(expiry::now(), ttl))),
        };
        cache.load()?;
        Ok(cache)
    }

    pub fn cache_path(&self) -> &Path {
        &self.cache_path
    }

    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// Runs `f` on the asset, if present and the store has not expired,
    /// without copying it.
    pub fn with_asset<R>(&self, id: &str, f: impl FnOnce(&T) -> R) -> Option<R> {
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

    /// True when the store has not expired and holds at least one asset.
    pub fn has_valid_cache(&self) -> bool {
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

    /// Brings memory up to date with the file. A missing file gives an empty
    /// store; an expired one is deleted; an unreadable one is moved aside to
    /// `<name>.json.corrupt` and the store starts empty.
    pub fn load(&self) -> Result<()> {
        let mut io = self.lock_io();
        // Nothing to read: no need for the lock, whose file locking would create.
        // (ENOTDIR: the folder path runs through a regular file; there is no
        // cache, and a write will say why it cannot create one.)
        if matches!(std::fs::symlink_metadata(&self.cache_path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR))
        {
            self.reset_if_known(&mut io);
            return Ok(());
        }
        let held = lock::acquire(&self.lock_path, Mode::Shared, self.lock_timeout)?;
        if let Synced::Done(_) = self.sync(&mut io, &held)? {
            return Ok(());
        }
        drop(held);
        let held = lock::acquire(&self.lock_path, Mode::Exclusive, self.lock_timeout)?;
        self.sync(&mut io, &held).map(|_| ())
    }

    /// Adds (or replaces) one asset and persists it before returning. The
    /// store keeps its expiry, unless it has expired: then a fresh store is
    /// started, so the write is not thrown away by the next load.
    pub fn add(&self, asset: T) -> Result<()> {
        let id = asset_id(&asset, None)?;
        self.add_with_id(id, asset)
    }

    /// `add` for a caller that already knows the asset's id.
    pub fn add_with_id(&self, id: String, asset: T) -> Result<()> {
        if id.is_empty() {
            return Err(Error::new(ErrorKind::MissingId, "asset id is empty"));
        }
        // Memory changes inside the write, under the I/O mutex: another thread's
        // write in between would otherwise rewrite the file from a memory
        // that lacks this asset.
        self.write(move |cache, io, opened| {
            cache.persist_add(io, opened, &id, &asset)?;
            cache.write_store().insert(id, asset);
            Ok(())
        })
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
        let store = pairs
            .into_iter()
            .collect::<StoreBuilder<T>>()
            .with_expiry(self.fresh_expiry());
        self.write(move |cache, io, _| {
            cache.persist_whole(io, &store)?;
            *cache.write_store() = store;
            Ok(())
        })
    }

    /// Rewrites the file from the current state: compacts superseded records
    /// and converts a file in the Python original's layout to ours.
    pub fn save(&self) -> Result<()> {
        self.write(|cache, io, _| {
            let store = cache.read_store();
            cache.persist_whole(io, &store)
        })
    }

    /// Empties the cache and deletes its file. The lock file is kept: deleting
    /// it (as the Python original does) would let a process waiting on the
    /// old lock file and one locking a new one both believe they hold it.
    pub fn invalidate(&self) -> Result<()> {
        let mut io = self.lock_io();
        if !self.dir.is_dir() {
            self.reset(&mut io);
            return Ok(());
        }
        let _held = lock::acquire(&self.lock_path, Mode::Exclusive, self.lock_timeout)?;
        match std::fs::remove_file(&self.cache_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("delete", &self.cache_path, e)),
        }
        persist::remove_stale_temps(&self.dir, &self.name);
        self.reset(&mut io);
        log::info(&format!("invalidated {}", self.cache_path.display()));
        Ok(())
    }

    // ---- the write path ----

    /// Runs one write under the exclusive lock, after bringing memory up to
    /// date with the file.
    fn write(
        &self,
        persist: impl FnOnce(&Self, &mut IoState, Option<Opened>) -> Result<()>,
    ) -> Result<()> {
        let mut io = self.lock_io();
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io("create folder", &self.dir, e))?;
        let held = lock::acquire(&self.lock_path, Mode::Exclusive, self.lock_timeout)?;
        let Synced::Done(opened) = self.sync(&mut io, &held)? else {
            unreachable!("an exclusive sync can always finish")
        };
        self.remove_temps_if_dir_changed(&mut io);
        persist(self, &mut io, opened)
    }

    fn persist_add(
        &self,
        io: &mut IoState,
        opened: Option<Opened>,
        id: &str,
        asset: &T,
    ) -> Result<()> {
        let live = self.read_store().len();
        if let (Some(mut file), Some(known)) = (opened, io.known.clone()) {
            let compact = known.records > 2 * live + 64;
            if known.rev.is_some() && !compact && known.size >= TAIL.len() as u64 {
                let mut bytes = Vec::with_capacity(256);
                persist::render_record(&mut bytes, known.records == 0, id, asset)?;
                bytes.extend_from_slice(TAIL);
                let size = file.append_at(
                    known.size - TAIL.len() as u64,
                    &bytes,
                    self.durable,
                    &self.cache_path,
                )?;
                io.known = Some(Identity {
                    size,
                    records: known.records + 1,
                    ..known
                });
                return Ok(());
            }
        }
        let store = self.read_store();
        let replaced = store.contains(id);
        let others = store
            .iter()
            .map(|(k, v)| if k == id { (k, asset) } else { (k, v) });
        let appended = (!replaced).then_some((id, asset));
        let rev = persist::new_rev();
        let bytes = persist::render(store.expiry(), &rev, others.chain(appended))?;
        let records = store.len() + usize::from(!replaced);
        drop(store);
        self.replace_file(io, &bytes, rev, records)
    }

    fn persist_whole(&self, io: &mut IoState, store: &Store<T>) -> Result<()> {
        let rev = persist::new_rev();
        let bytes = persist::render(store.expiry(), &rev, store.iter())?;
        self.replace_file(io, &bytes, rev, store.len())
    }

    fn replace_file(
        &self,
        io: &mut IoState,
        bytes: &[u8],
        rev: String,
        records: usize,
    ) -> Result<()> {
        let (dev, ino) = persist::replace(&self.dir, &self.name, bytes, self.durable)?;
        io.known = Some(Identity {
            dev,
            ino,
            size: bytes.len() as u64,
            rev: Some(rev),
            records,
        });
        io.dir_stamp = persist::dir_stamp(&self.dir);
        Ok(())
    }

    fn remove_temps_if_dir_changed(&self, io: &mut IoState) {
        let stamp = persist::dir_stamp(&self.dir);
        if stamp != io.dir_stamp || stamp.is_none() {
            let n = persist::remove_stale_temps(&self.dir, &self.name);
            if n > 0 {
                log::warn(&format!(
                    "removed {n} temporary file(s) left in {} by a writer that stopped mid-save",
                    self.dir.display()
                ));
            }
            io.dir_stamp = persist::dir_stamp(&self.dir);
        }
    }

    // ---- bringing memory up to date with the file, under the lock ----

    fn sync(&self, io: &mut IoState, held: &Held) -> Result<Synced> {
        let exclusive = held.mode == Mode::Exclusive;
        let Some(opened) = persist::open(&self.cache_path, exclusive)? else {
            self.reset_if_known(io);
            return self.drop_if_expired(io, exclusive, None);
        };
        if let Some(known) = &io.known {
            if known.dev == opened.dev && known.ino == opened.ino && known.rev.is_some() {
                let head = opened.read_at(0, opened.size.min(256), &self.cache_path)?;
                if persist::header_rev(&head) == known.rev {
                    if opened.size == known.size {
                        return self.drop_if_expired(io, exclusive, Some(opened));
                    }
                    if opened.size > known.size && self.read_appended(io, &opened)? {
                        return self.drop_if_expired(io, exclusive, Some(opened));
                    }
                }
            }
        }
        self.read_whole(io, opened, exclusive)
    }

    /// Reads the records others appended since the version we know. False
    /// when the bytes are not clean appends (then the whole file is reread).
    fn read_appended(&self, io: &mut IoState, opened: &Opened) -> Result<bool> {
        let Some(known) = io.known.as_mut() else {
            return Ok(false);
        };
        let from = known.size - TAIL.len() as u64;
        let bytes = opened.read_at(from, opened.size - from, &self.cache_path)?;
        let Ok(pairs) = persist::parse_appended::<T>(&bytes) else {
            return Ok(false);
        };
        known.records += pairs.len();
        known.size = opened.size;
        let mut store = self.write_store();
        for (id, asset) in pairs {
            store.insert(id, asset);
        }
        Ok(true)
    }

    fn read_whole(&self, io: &mut IoState, opened: Opened, exclusive: bool) -> Result<Synced> {
        let identity = |rev, records, size| Identity {
            dev: opened.dev,
            ino: opened.ino,
            size,
            rev,
            records,
        };
        let bytes = Arc::new(opened.read_all(&self.cache_path)?);
        if let Some(parsed) = persist::parse_lines::<T>(&bytes) {
            io.known = Some(identity(parsed.rev, parsed.records, bytes.len() as u64));
            *self.write_store() = parsed.store;
            return self.drop_if_expired(io, exclusive, Some(opened));
        }
        match persist::parse::<T>(&bytes) {
            Ok(parsed) => {
                io.known = Some(identity(parsed.rev, parsed.records, bytes.len() as u64));
                *self.write_store() = parsed.store;
                self.drop_if_expired(io, exclusive, Some(opened))
            }
            Err(persist::Unreadable(why)) => {
                if !exclusive {
                    return Ok(Synced::NeedsExclusive);
                }
                let repaired = persist::repair(&bytes)
                    .and_then(|fixed| persist::parse::<T>(&fixed).ok().map(|p| (fixed, p)));
                if let Some((fixed, parsed)) = repaired {
                    log::warn(&format!(
                        "{}: dropping the torn last record of an add that crashed ({why})",
                        self.cache_path.display()
                    ));
                    let rev = persist::new_rev();
                    let fixed = persist::render(parsed.store.expiry(), &rev, parsed.store.iter())
                        .unwrap_or(fixed);
                    self.replace_file(io, &fixed, rev, parsed.store.len())?;
                    *self.write_store() = parsed.store;
                    let reopened = persist::open(&self.cache_path, true)?;
                    return self.drop_if_expired(io, exclusive, reopened);
                }
                drop(opened);
                let aside = persist::quarantine(&self.cache_path)?;
                log::warn(&format!(
                    "{} is unreadable ({why}); kept aside as {}, starting empty",
                    self.cache_path.display(),
                    aside.display()
                ));
                self.reset(io);
                Ok(Synced::Done(None))
            }
        }
    }

    /// An expired file is deleted (exclusive mode) and memory starts afresh.
    fn drop_if_expired(
        &self,
        io: &mut IoState,
        exclusive: bool,
        opened: Option<Opened>,
    ) -> Result<Synced> {
        if !self.read_store().is_expired() {
            return Ok(Synced::Done(opened));
        }
        if opened.is_none() {
            self.reset(io);
            return Ok(Synced::Done(None));
        }
        if !exclusive {
            return Ok(Synced::NeedsExclusive);
        }
        drop(opened);
        match std::fs::remove_file(&self.cache_path) {
            Ok(()) => log::info(&format!("{} expired; deleted", self.cache_path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("delete expired", &self.cache_path, e)),
        }
        self.reset(io);
        Ok(Synced::Done(None))
    }

    fn fresh_expiry(&self) -> f64 {
        expiry::expiry_from(expiry::now(), self.ttl)
    }

    /// Memory becomes a fresh empty store: there is no file.
    fn reset(&self, io: &mut IoState) {
        io.known = None;
        *self.write_store() = Store::new(self.fresh_expiry());
    }

    /// Like `reset`, but keeps a fresh store's expiry when nothing changed.
    fn reset_if_known(&self, io: &mut IoState) {
        if io.known.is_some() || !self.read_store().is_empty() {
            self.reset(io);
        }
    }

    fn lock_io(&self) -> MutexGuard<'_, IoState> {
        self.io.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read_store(&self) -> ReadGuard<'_, Store<T>> {
        self.store.read()
    }

    fn write_store(&self) -> WriteGuard<'_, Store<T>> {
        self.store.write()
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
