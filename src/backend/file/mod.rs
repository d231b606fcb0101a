//! The file backend: the Python original's `<dir>/<name>.json`, guarded by
//! `<dir>/<name>.lock`. The one owner of the file: what memory reflects of it
//! (its [`Identity`]), and the choice between reading appended records,
//! rereading it whole, repairing a torn append, appending and rewriting.
//!
//! * [`format`]: the bytes (render, parse, header rev, repair); no I/O.
//! * [`io`]: open, read, append with rollback, atomic replacement, temporary
//!   files, quarantine.
//! * [`lock`]: the inter-process lock (folder and lock-file flocks, turnstile).

pub mod format;
pub(crate) mod io;
pub mod lock;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use self::format::{Unreadable, TAIL};
use self::io::Opened;
use self::lock::{Held, Mode};
use super::{sealed, Backend, Change};
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
    /// Records on disk, superseded ones included: the trigger for compaction.
    records: usize,
}

/// The cache file and its lock file, and what this handle knows of them.
pub struct FileBackend {
    dir: PathBuf,
    name: String,
    cache_path: PathBuf,
    lock_path: PathBuf,
    lock_timeout: Option<Duration>,
    durable: bool,
    /// The file version memory reflects; `None`: no file (or unknown).
    known: Option<Identity>,
    /// Folder mtime after our last write, to notice others' temp files.
    dir_stamp: Option<(i64, i64)>,
}

/// The shared lock, or nothing when there was no file to read.
pub struct ReadLock(Option<Held>);

/// The exclusive lock, and the file as opened (read-write) by `sync`.
pub struct WriteLock {
    file: Option<Opened>,
    _held: Held,
}

/// What a read of the file found.
enum Read<T> {
    Done(Change<T>),
    /// Not readable as it is: only a writer may repair it or set it aside.
    Unreadable(Arc<Vec<u8>>, String),
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
            known: None,
            dir_stamp: None,
        }
    }

    /// No file: memory must start afresh if it reflected anything.
    fn absent<T: Asset>(&mut self, memory: &Store<T>) -> Change<T> {
        if self.known.is_some() || !memory.is_empty() {
            self.known = None;
            Change::Gone
        } else {
            Change::Unchanged
        }
    }

    fn read<T: Asset>(&mut self, opened: Option<&Opened>, memory: &Store<T>) -> Result<Read<T>> {
        let Some(opened) = opened else {
            return Ok(Read::Done(self.absent(memory)));
        };
        if let Some(known) = &self.known {
            if known.dev == opened.dev && known.ino == opened.ino && known.rev.is_some() {
                let head = opened.read_at(0, opened.size.min(256), &self.cache_path)?;
                if format::header_rev(&head) == known.rev {
                    if opened.size == known.size {
                        return Ok(Read::Done(Change::Unchanged));
                    }
                    if opened.size > known.size {
                        if let Some(pairs) = self.read_appended(opened)? {
                            return Ok(Read::Done(Change::Added(pairs)));
                        }
                    }
                }
            }
        }
        self.read_whole(opened)
    }

    /// Reads the records others appended since the version we know. `None`
    /// when the bytes are not clean appends (then the whole file is reread).
    fn read_appended<T: Asset>(&mut self, opened: &Opened) -> Result<Option<Vec<(String, T)>>> {
        let Some(known) = self.known.as_mut() else {
            return Ok(None);
        };
        let from = known.size - TAIL.len() as u64;
        let bytes = opened.read_at(from, opened.size - from, &self.cache_path)?;
        let Ok(pairs) = format::parse_appended::<T>(&bytes) else {
            return Ok(None);
        };
        known.records += pairs.len();
        known.size = opened.size;
        Ok(Some(pairs))
    }

    fn read_whole<T: Asset>(&mut self, opened: &Opened) -> Result<Read<T>> {
        let identity = |rev, records, size| Identity {
            dev: opened.dev,
            ino: opened.ino,
            size,
            rev,
            records,
        };
        let bytes = Arc::new(opened.read_all(&self.cache_path)?);
        if let Some(parsed) = format::parse_lines::<T>(&bytes) {
            self.known = Some(identity(parsed.rev, parsed.records, bytes.len() as u64));
            return Ok(Read::Done(Change::Whole(parsed.store)));
        }
        match format::parse::<T>(&bytes) {
            Ok(parsed) => {
                self.known = Some(identity(parsed.rev, parsed.records, bytes.len() as u64));
                Ok(Read::Done(Change::Whole(parsed.store)))
            }
            Err(Unreadable(why)) => Ok(Read::Unreadable(bytes, why)),
        }
    }

    /// A file that does not parse: a torn append is repaired (its complete
    /// records kept); anything else is moved aside and memory starts empty.
    fn repair<T: Asset>(
        &mut self,
        lock: &mut WriteLock,
        bytes: &[u8],
        why: &str,
    ) -> Result<Change<T>> {
        let repaired = format::repair(bytes)
            .and_then(|fixed| format::parse::<T>(&fixed).ok().map(|p| (fixed, p)));
        if let Some((fixed, parsed)) = repaired {
            log::warn(&format!(
                "{}: dropping the torn last record of an add that crashed ({why})",
                self.cache_path.display()
            ));
            let rev = format::new_rev();
            let fixed =
                format::render(parsed.store.expiry(), &rev, parsed.store.iter()).unwrap_or(fixed);
            self.replace_file(&fixed, rev, parsed.store.len())?;
            lock.file = io::open(&self.cache_path, true)?;
            return Ok(Change::Whole(parsed.store));
        }
        lock.file = None;
        let aside = io::quarantine(&self.cache_path)?;
        log::warn(&format!(
            "{} is unreadable ({why}); kept aside as {}, starting empty",
            self.cache_path.display(),
            aside.display()
        ));
        self.known = None;
        Ok(Change::Gone)
    }

    fn replace_file(&mut self, bytes: &[u8], rev: String, records: usize) -> Result<()> {
        let (dev, ino) = io::replace(&self.dir, &self.name, bytes, self.durable)?;
        self.known = Some(Identity {
            dev,
            ino,
            size: bytes.len() as u64,
            rev: Some(rev),
            records,
        });
        self.dir_stamp = io::dir_stamp(&self.dir);
        Ok(())
    }

    fn remove_temps_if_dir_changed(&mut self) {
        let stamp = io::dir_stamp(&self.dir);
        if stamp != self.dir_stamp || stamp.is_none() {
            let n = io::remove_stale_temps(&self.dir, &self.name);
            if n > 0 {
                log::warn(&format!(
                    "removed {n} temporary file(s) left in {} by a writer that stopped mid-save",
                    self.dir.display()
                ));
            }
            self.dir_stamp = io::dir_stamp(&self.dir);
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
        if matches!(std::fs::symlink_metadata(&self.cache_path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR))
        {
            return Ok(ReadLock(None));
        }
        let held = lock::acquire(&self.lock_path, Mode::Shared, self.lock_timeout)?;
        Ok(ReadLock(Some(held)))
    }

    fn write_lock(&mut self) -> Result<WriteLock> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io("create folder", &self.dir, e))?;
        let held = lock::acquire(&self.lock_path, Mode::Exclusive, self.lock_timeout)?;
        Ok(WriteLock {
            file: None,
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
        lock.file = io::open(&self.cache_path, true)?;
        match self.read(lock.file.as_ref(), memory)? {
            Read::Done(change) => Ok(change),
            Read::Unreadable(bytes, why) => self.repair(lock, &bytes, &why),
        }
    }

    fn append(
        &mut self,
        lock: &mut WriteLock,
        memory: &Store<T>,
        id: &str,
        asset: &T,
    ) -> Result<Option<Change<T>>> {
        self.remove_temps_if_dir_changed();
        let live = memory.len();
        if let (Some(file), Some(known)) = (lock.file.as_mut(), self.known.clone()) {
            let compact = known.records > 2 * live + 64;
            if known.rev.is_some() && !compact && known.size >= TAIL.len() as u64 {
                let mut bytes = Vec::with_capacity(256);
                format::render_record(&mut bytes, known.records == 0, id, asset)?;
                bytes.extend_from_slice(TAIL);
                let size = file.append_at(
                    known.size - TAIL.len() as u64,
                    &bytes,
                    self.durable,
                    &self.cache_path,
                )?;
                self.known = Some(Identity {
                    size,
                    records: known.records + 1,
                    ..known
                });
                return Ok(None);
            }
        }
        let replaced = memory.contains(id);
        let others = memory
            .iter()
            .map(|(k, v)| if k == id { (k, asset) } else { (k, v) });
        let appended = (!replaced).then_some((id, asset));
        let rev = format::new_rev();
        let bytes = format::render(memory.expiry(), &rev, others.chain(appended))?;
        let records = memory.len() + usize::from(!replaced);
        lock.file = None;
        self.replace_file(&bytes, rev, records).map(|()| None)
    }

    fn rewrite(&mut self, lock: &mut WriteLock, store: &Store<T>) -> Result<()> {
        self.remove_temps_if_dir_changed();
        let rev = format::new_rev();
        let bytes = format::render(store.expiry(), &rev, store.iter())?;
        lock.file = None;
        self.replace_file(&bytes, rev, store.len())
    }

    fn remove_expired(&mut self, lock: &mut WriteLock) -> Result<()> {
        lock.file = None;
        match std::fs::remove_file(&self.cache_path) {
            Ok(()) => log::info(&format!("{} expired; deleted", self.cache_path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
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
        let _held = lock::acquire(&self.lock_path, Mode::Exclusive, self.lock_timeout)?;
        match std::fs::remove_file(&self.cache_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("delete", &self.cache_path, e)),
        }
        io::remove_stale_temps(&self.dir, &self.name);
        self.known = None;
        log::info(&format!("invalidated {}", self.cache_path.display()));
        Ok(())
    }

    fn is_stored(&self) -> bool {
        self.known.is_some()
    }
}
