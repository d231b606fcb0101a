//! The file backend: the Python original's `<dir>/<name>.json`, guarded by
//! `<dir>/<name>.lock`. The one owner of the file: what memory reflects of it
//! (its [`Identity`]), and the choice between reading appended records,
//! rereading it whole, repairing a torn append, appending, splicing into
//! another writer's file (issue 11) and rewriting.
//!
//! * [`format`]: the bytes (render, parse, header rev, repair); no I/O.
//! * [`io`]: open, read, append with rollback, atomic replacement, temporary
//!   files, quarantine.
//! * [`lock`]: the inter-process lock (lock-file flock, announcement on the
//!   folder, turnstile).
//! * [`claim`]: single-flight claims, OFD byte-range locks on the lock file.
//! * `read.rs`: what changed in the file since the version memory reflects
//!   (new records, a whole reread), the repair of a torn file, and the live
//!   bytes' accounting.
//!
//! Here: the backend's state, and the operations of the `Backend` trait
//! (locks, append, rewrite, delete).

pub mod claim;
pub mod format;
pub(crate) mod io;
pub mod lock;
mod read;

use std::path::PathBuf;

use std::time::Duration;

use self::format::{Layout, Splice, TAIL};
use self::io::Opened;
use self::lock::{Held, Mode};
use self::read::Read;
use super::{sealed, Backend, Change, Claimer};
use crate::asset::Asset;
use crate::error::{Error, Result};
use crate::log;
use crate::store::Store;

/// Which file, and which version of it, memory reflects.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    /// `None` for a file in another layout (the Python original's): it can
    /// only be reread whole, and the next write rewrites it in ours.
    rev: Option<String>,
    /// Where the last record ends, when records can be written into the
    /// file's reservoir.
    end: Option<u64>,
    /// The bytes of the live records (superseded ones excluded): the file is
    /// rewritten when it grows past twice that (plus [`SLACK`]). Another
    /// writer's records count whole, whitespace included.
    live: u64,
    /// Whose layout: where the rev is, what the closing is, how an add goes.
    layout: Layout,
}

impl Identity {
    /// The length of the closing after the reservoir.
    fn tail_len(&self) -> u64 {
        match self.layout {
            Layout::Hybrid => format::HYBRID_TAIL_LEN as u64,
            _ => TAIL.len() as u64,
        }
    }
}

/// What the file may hold beyond twice its live records' bytes before the
/// next add rewrites it: the reservoir of a small file, headers.
pub(crate) const SLACK: u64 = 8 * 1024;

/// The cache file and its lock file, and what this handle knows of them.
pub struct FileBackend {
    dir: PathBuf,
    name: String,
    cache_path: PathBuf,
    lock_path: PathBuf,
    lock_timeout: Option<Duration>,
    durable: bool,
    /// Modes of the files and folders this backend creates.
    file_mode: u32,
    dir_mode: u32,
    /// The file version memory reflects; `None`: no file (or unknown).
    known: Option<Identity>,
    /// The lock's folder and lock-file descriptors, kept between operations.
    kept_lock: lock::Kept,
    /// The cache file, opened read-write by the last write and kept open
    /// (with its device and inode) for the next: reused while the file at
    /// the path is still that inode (one `lstat` instead of `open`, `fstat`
    /// and `close`). Holding it also keeps its inode number from being
    /// reused by a new file, so equal numbers do mean the same file.
    kept_file: Option<(std::sync::Arc<std::fs::File>, u64, u64)>,
    /// Whether this handle has written yet: its first write removes a
    /// crashed writer's temporary file (later ones leave that to rewrites,
    /// which remove it before creating theirs).
    wrote: bool,
}

/// The shared lock, or nothing when there was no file to read.
pub struct ReadLock(Option<Held>);

/// The exclusive lock, and the file as opened (read-write) by `sync`.
pub struct WriteLock {
    file: Option<Opened>,
    /// Why the file could not be opened for writing, when `sync` had to open
    /// it read-only (a reader that may not write there): a write fails with
    /// it, a load goes on without the repairs it cannot make.
    write_denied: Option<Error>,
    _held: Held,
}

impl FileBackend {
    /// The backend of cache `name` in folder `dir`. Touches nothing on disk.
    pub(crate) fn new(
        dir: PathBuf,
        name: String,
        lock_timeout: Option<Duration>,
        durable: bool,
    ) -> Self {
        FileBackend {
            cache_path: io::cache_path(&dir, &name),
            lock_path: lock::lock_path(&dir, &name),
            dir,
            name,
            lock_timeout,
            durable,
            file_mode: crate::options::DEFAULT_FILE_MODE,
            dir_mode: crate::options::DEFAULT_DIR_MODE,
            known: None,
            kept_lock: lock::Kept::default(),
            kept_file: None,
            wrote: false,
        }
    }

    /// The modes of the cache file, lock file and folders this backend
    /// creates (see `Options::file_mode`, `Options::dir_mode`).
    pub fn with_modes(mut self, file_mode: u32, dir_mode: u32) -> Self {
        self.file_mode = file_mode;
        self.dir_mode = dir_mode;
        self
    }

    /// The mode for a lock file this backend has to create: the cache file's
    /// permission bits when there is one (the Python original's `invalidate`
    /// deletes the lock file of a cache that others may share: a new private
    /// lock file would lock them out), else `file_mode`.
    fn lock_file_mode(&self, cache_file: Option<std::fs::Metadata>) -> u32 {
        use std::os::unix::fs::MetadataExt;
        match cache_file {
            Some(m) if m.is_file() => (m.mode() & 0o666) | 0o600,
            _ => self.file_mode,
        }
    }

    /// The cache's lock in `mode`, on the kept descriptors when there are
    /// some. The cache file is looked at (for the lock file's mode) only if
    /// the lock file has to be created.
    fn lock(&self, mode: Mode) -> Result<Held> {
        let file_mode = || self.lock_file_mode(std::fs::symlink_metadata(&self.cache_path).ok());
        lock::acquire_kept(
            &self.lock_path,
            mode,
            self.lock_timeout,
            &file_mode,
            Some(&self.kept_lock),
        )
    }

    /// The cache file opened read-write: the descriptor kept from the last
    /// write while the file at the path is still its inode (size from the
    /// same `lstat`), else a fresh one, kept in turn. `None`: no file.
    fn open_for_write(&mut self) -> Result<Option<Opened>> {
        use std::os::unix::fs::MetadataExt;
        if let Some((file, dev, ino)) = self.kept_file.take() {
            match std::fs::symlink_metadata(&self.cache_path) {
                Ok(m) if m.is_file() && m.dev() == dev && m.ino() == ino => {
                    self.kept_file = Some((file.clone(), dev, ino));
                    return Ok(Some(Opened {
                        file,
                        dev,
                        ino,
                        size: m.len(),
                    }));
                }
                // Replaced or deleted: the kept descriptor is dropped.
                _ => {}
            }
        }
        let opened = io::open(&self.cache_path, true)?;
        if let Some(o) = &opened {
            self.kept_file = Some((o.file.clone(), o.dev, o.ino));
        }
        Ok(opened)
    }

    fn replace_file(
        &mut self,
        bytes: &[u8],
        rev: String,
        end: Option<u64>,
        live: u64,
    ) -> Result<()> {
        // The old inode goes; its descriptor is not kept alive for nothing.
        self.kept_file = None;
        let (dev, ino) = io::replace(&self.dir, &self.name, bytes, self.durable, self.file_mode)?;
        self.known = Some(Identity {
            dev,
            ino,
            size: bytes.len() as u64,
            rev: Some(rev),
            end,
            live,
            layout: Layout::Ours,
        });
        Ok(())
    }

    /// Adds one record to a file in another writer's layout (at `at`, right
    /// after its last record) or to a hybrid file whose reservoir is used up
    /// (at the end of its records), without rewriting what is before `at`:
    /// in one page when it fits, else as a new file whose first `at` bytes
    /// are copied in the kernel (see `format::splice`). The file becomes (or
    /// stays) hybrid, with a new rev.
    fn splice(
        &mut self,
        lock: &mut WriteLock,
        at: u64,
        lead: &[u8],
        record: &[u8],
        live: u64,
    ) -> Result<()> {
        let Some(file) = lock.file.as_mut() else {
            return Err(Error::new(
                crate::error::ErrorKind::Io,
                "the cache file is not open for the splice",
            ));
        };
        let rev = format::new_rev();
        let reservoir = format::reservoir_len(live as usize);
        let page_start = format::page_start(at);
        let page_before = file.read_at(page_start, at - page_start, &self.cache_path)?;
        let (how, end) = format::splice(at, file.size, lead, record, &rev, reservoir, &page_before);
        let (dev, ino, size) = match how {
            Splice::InPage { at, bytes } => {
                file.splice_in_place(at, &bytes, self.durable, &self.cache_path)?;
                (file.dev, file.ino, file.size)
            }
            Splice::Copy { suffix } => {
                // The old inode goes; its descriptor is not kept alive for nothing.
                self.kept_file = None;
                let (dev, ino) = io::replace_with_prefix(
                    &self.dir,
                    &self.name,
                    &file.file,
                    at,
                    &suffix,
                    self.durable,
                    self.file_mode,
                )?;
                lock.file = None;
                (dev, ino, at + suffix.len() as u64)
            }
        };
        self.known = Some(Identity {
            dev,
            ino,
            size,
            rev: Some(rev),
            end: Some(end),
            live,
            layout: Layout::Hybrid,
        });
        Ok(())
    }

    /// One unlink of the fixed temporary name under the exclusive lock: the
    /// cost of an add does not grow with the folder. Made by a handle's first
    /// write and by every rewrite; an append in place after the first write
    /// skips it (a leftover harms nothing until a rewrite needs the name, and
    /// `io::create_temp` removes it then).
    fn remove_stale_temp(&mut self, rewriting: bool) {
        if !rewriting && self.wrote {
            return;
        }
        self.wrote = true;
        if io::remove_stale_temp(&self.dir, &self.name) {
            log::warn(&format!(
                "removed the temporary file left in {} by a writer that stopped mid-save",
                self.dir.display()
            ));
        }
    }
}

impl sealed::Sealed for FileBackend {}

impl<T: Asset> Backend<T> for FileBackend {
    type ReadLock = ReadLock;
    type WriteLock = WriteLock;

    fn read_lock(&mut self) -> Result<ReadLock> {
        // Nothing to read: no need for the lock, whose file locking would create.
        // (ENOTDIR: the folder path runs through a regular file; there is no
        // cache, and a write will say why it cannot create one.)
        let meta = std::fs::symlink_metadata(&self.cache_path);
        if matches!(&meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR))
        {
            return Ok(ReadLock(None));
        }
        let held = self.lock(Mode::Shared)?;
        Ok(ReadLock(Some(held)))
    }

    fn write_lock(&mut self) -> Result<WriteLock> {
        // With descriptors kept from the last operation the folder exists
        // (or did: if it is gone, the lock says so and it is made anew).
        let kept = self.kept_lock.is_kept();
        if !kept {
            io::create_folder(&self.dir, self.dir_mode, self.durable)?;
        }
        let held = match self.lock(Mode::Exclusive) {
            Err(_) if kept && !self.dir.is_dir() => {
                io::create_folder(&self.dir, self.dir_mode, self.durable)?;
                self.lock(Mode::Exclusive)?
            }
            held => held?,
        };
        Ok(WriteLock {
            file: None,
            write_denied: None,
            _held: held,
        })
    }

    fn sync_read(&mut self, lock: &mut ReadLock, memory: &Store<T>) -> Result<Option<Change<T>>> {
        if lock.0.is_none() {
            return Ok(Some(self.absent(memory)));
        }
        let opened = io::open(&self.cache_path, false)?;
        Ok(match self.read(opened.as_ref(), memory)? {
            Read::Done(change) => Some(change),
            Read::Unreadable(..) => None,
        })
    }

    fn sync(&mut self, lock: &mut WriteLock, memory: &Store<T>) -> Result<Change<T>> {
        lock.write_denied = None;
        lock.file = match self.open_for_write() {
            Ok(file) => file,
            Err(e) if e.is_write_denied() => {
                // Readable, maybe: a load may still read it (and leave the
                // repairs it wanted to a writer); a write fails with `e`.
                let file = io::open(&self.cache_path, false)?;
                lock.write_denied = Some(e);
                file
            }
            Err(e) => return Err(e),
        };
        match self.read(lock.file.as_ref(), memory)? {
            Read::Done(change) => Ok(change),
            Read::Unreadable(bytes, why) => self.repair(lock, &bytes, &why),
        }
    }

    /// In place when the record fits in one page of the reservoir and the
    /// file stays within twice its live bytes (plus `SLACK`); otherwise
    /// the whole file is rendered anew with a fresh reservoir and replaces
    /// the old one atomically (which also drops superseded records).
    fn append(
        &mut self,
        lock: &mut WriteLock,
        memory: &Store<T>,
        id: &str,
        asset: &T,
    ) -> Result<Option<Change<T>>> {
        if let Some(e) = lock.write_denied.take() {
            return Err(e);
        }
        self.remove_stale_temp(false);
        let mut record = Vec::with_capacity(256);
        // The first record of the file has no comma (records whose id has no
        // UTF-8 form are in the file, not among the assets).
        let first = memory.is_empty() && memory.kept().is_empty();
        format::render_record(&mut record, first, id, asset)?;
        let len = record.len() as u64;
        let old = memory.get(id).map_or(0, |a| format::record_len(id, a));
        if let (Some(file), Some(known)) = (lock.file.as_mut(), self.known.as_mut()) {
            let live = (known.live + len).saturating_sub(old);
            let bounded = known.size <= 2 * live + SLACK;
            if let (Some(_), Some(end), true) = (&known.rev, known.end, bounded) {
                let tail = known.size - known.tail_len();
                if let Some(at) = format::place_record(end, len, tail) {
                    file.write_in_place(at, &record, self.durable, &self.cache_path)?;
                    known.end = Some(at + len);
                    known.live = live;
                    return Ok(None);
                }
                if known.layout == Layout::Hybrid {
                    // The reservoir is used up: a new one after the records.
                    self.splice(lock, end, b"", &record, live)?;
                    return Ok(None);
                }
            }
            // Issue 11: no rewrite after another writer's: a splice.
            if let (
                Layout::Foreign {
                    splice_at: Some(at),
                },
                true,
            ) = (known.layout, bounded)
            {
                self.splice(lock, at, b"\n", &record, live)?;
                return Ok(None);
            }
        }
        let replaced = memory.contains(id);
        let others = memory
            .iter()
            .map(|(k, v)| if k == id { (k, asset) } else { (k, v) });
        let appended = (!replaced).then_some((id, asset));
        let rev = format::new_rev();
        let r = format::render_file(memory.expiry(), &rev, others.chain(appended), memory.kept())?;
        lock.file = None;
        self.replace_file(&r.bytes, rev, Some(r.end), r.live)
            .map(|()| None)
    }

    fn rewrite(&mut self, lock: &mut WriteLock, store: &Store<T>) -> Result<()> {
        if let Some(e) = lock.write_denied.take() {
            return Err(e);
        }
        self.remove_stale_temp(true);
        let rev = format::new_rev();
        let r = format::render_file(store.expiry(), &rev, store.iter(), store.kept())?;
        lock.file = None;
        self.replace_file(&r.bytes, rev, Some(r.end), r.live)
    }

    fn remove_expired(&mut self, lock: &mut WriteLock) -> Result<()> {
        lock.file = None;
        self.kept_file = None;
        match std::fs::remove_file(&self.cache_path) {
            Ok(()) => {
                log::info(&format!("{} expired; deleted", self.cache_path.display()));
                // Nothing denies writing a new file in its place.
                lock.write_denied = None;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => lock.write_denied = None,
            // A reader that may not write there: the store is empty and
            // expired all the same; the file is left for a writer to delete.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EACCES | libc::EPERM | libc::EROFS)
                ) =>
            {
                log::info(&format!(
                    "{} expired; cannot delete it ({e}), left for a writer",
                    self.cache_path.display()
                ))
            }
            Err(e) => return Err(Error::io("delete expired", &self.cache_path, e)),
        }
        self.known = None;
        Ok(())
    }

    /// The lock file is kept: deleting it (as the Python original does) would
    /// let a process waiting on the old lock file and one locking a new one
    /// both believe they hold it.
    fn invalidate(&mut self) -> Result<()> {
        if !self.dir.is_dir() {
            self.known = None;
            return Ok(());
        }
        let meta = std::fs::symlink_metadata(&self.cache_path).ok();
        let _held = lock::acquire_creating(
            &self.lock_path,
            Mode::Exclusive,
            self.lock_timeout,
            self.lock_file_mode(meta),
        )?;
        match std::fs::remove_file(&self.cache_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("delete", &self.cache_path, e)),
        }
        io::remove_stale_temp(&self.dir, &self.name);
        self.known = None;
        self.kept_file = None;
        log::info(&format!("invalidated {}", self.cache_path.display()));
        Ok(())
    }

    fn is_stored(&self) -> bool {
        self.known.is_some()
    }

    /// A whole new file without the dropped assets (temporary file and
    /// rename, as any rewrite): an append cannot express a removal that the
    /// Python original would understand (it calls `from_dict` on every
    /// value, so a tombstone record would make it discard the whole file).
    fn rewrite_filtered(
        &mut self,
        lock: &mut WriteLock,
        memory: &Store<T>,
        keep: &mut dyn FnMut(usize, &str) -> bool,
        appended: Option<(&str, &T)>,
    ) -> Result<()> {
        if let Some(e) = lock.write_denied.take() {
            return Err(e);
        }
        self.remove_stale_temp(true);
        let rev = format::new_rev();
        let assets = memory
            .iter()
            .enumerate()
            .filter(|(i, (k, _))| keep(*i, k))
            .map(|(_, pair)| pair)
            .chain(appended);
        let r = format::render_file(memory.expiry(), &rev, assets, memory.kept())?;
        lock.file = None;
        self.replace_file(&r.bytes, rev, Some(r.end), r.live)
    }

    fn watched_file(&self) -> Option<PathBuf> {
        Some(self.cache_path.clone())
    }

    fn claimer(&self) -> Claimer {
        Claimer::File {
            dir: self.dir.clone(),
            lock_path: self.lock_path.clone(),
            file_mode: self.file_mode,
            dir_mode: self.dir_mode,
            durable: self.durable,
        }
    }
}
