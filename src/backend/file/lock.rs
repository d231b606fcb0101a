//! The inter-process lock: `flock(2)` on `<dir>/<name>.lock`, the same lock the
//! Python original takes through `filelock`, so the two exclude each other.
//! (The order of every lock, in-process ones included, is noted once, in
//! `src/cache.rs`.)
//!
//! A backend keeps its folder and lock-file descriptors open between
//! operations ([`Kept`]: an uncontended add then costs no `open` or
//! `close`), and releases every lock it takes on them explicitly (`LOCK_UN`,
//! `F_UNLCK`), never by closing. Kept descriptors are listed
//! (`fork::Listed`), and a child made by `fork()` points its copies at
//! `/dev/null`: a flock or OFD lock belongs to the open file description, so
//! a child sharing it would otherwise keep a lock taken later by the parent
//! held after the parent died (see `fork`). A descriptor that finds no free
//! slot in that list is not kept: it is closed after the operation, as all
//! were before issue 11.
//!
//! The lock file can be deleted or replaced under a holder (the Python
//! original's `invalidate` deletes it without locking): a newcomer then locks
//! the new file while the holder still holds the old one. So, once it has its
//! flock, a process of this library also *announces* itself on the folder,
//! which cannot be swapped that way: a shared OFD byte-range lock (`fcntl`)
//! on the folder's descriptor at an offset derived from the lock file's name
//! (two bytes per name: one for readers, one for writers). It then checks
//! that no other process announces a conflicting mode on that name
//! (`F_OFD_GETLK`); if one does, it holds a lock on a replaced file, and the
//! newcomer lets everything go and tries again until the other is done. Two
//! processes that both announce and then check cannot both miss each other
//! (the kernel orders the lock operations), so processes of this library
//! never hold the lock at once, whatever happens to the lock file. (Python
//! processes only take the lock file.)
//!
//! The announcement is only ever taken after the flock is granted and is
//! never waited for, and it only conflicts with the same name: caches
//! sharing a folder never wait for each other, and nothing holds anything on
//! the folder while it waits. (Where the folder cannot be opened for reading,
//! an execute-only folder, or takes no byte-range locks, only the lock file
//! excludes, as in the Python original.)
//!
//! flock has no queue: while readers' shared locks overlap without a gap, a
//! writer asking for the exclusive lock never gets it; and a writer that
//! writes in a loop takes its lock back before any polling reader sees it
//! free. So every lock first takes a turnstile, an OFD byte-range lock on
//! the first byte of the lock file (exclusive for a writer, shared for a
//! reader), and holds it until its flock is granted: readers that arrive
//! while a writer waits wait behind it, and a writer's next write waits for
//! the readers that queued while it wrote; the readers already in finish,
//! and the writer gets in. On Linux OFD locks and
//! flocks are independent, so the turnstile does not touch the Python
//! original's `filelock` (whose writers are not queued by it). Every wait,
//! the turnstile's included, ends at the caller's own deadline.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use fs2::FileExt;

use crate::error::{Error, ErrorKind, Result};
use crate::fork::Listed;

/// Shared for reading, exclusive for writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Shared,
    Exclusive,
}

/// A held lock. Dropping it releases the lock: the announcement on the
/// folder first, then the lock file, so that a successor never finds our
/// announcement still there. Descriptors kept for the backend's next
/// operation ([`Kept`]) are unlocked explicitly and go back to it; others
/// are closed (which releases their locks).
#[derive(Debug)]
pub struct Held {
    folder: Option<Listed<File>>,
    announced: bool,
    file: Option<Listed<File>>,
    slot: i64,
    pub mode: Mode,
    home: Option<Kept>,
}

/// The folder and lock-file descriptors a backend keeps open between its
/// operations, so that taking the lock costs no `open` and `close` of
/// either (issue 11: they were 6 of the 27 system calls of an add). Only
/// descriptors listed for `fork` are kept (a child points its copies at
/// `/dev/null`, so it never shares a lock we take later), and every lock
/// taken on them is released explicitly, never by closing. Before each use
/// the lock file is checked to be still the one at its path (after the
/// flock, as for a fresh descriptor): if it was deleted or replaced, or the
/// folder's path now leads elsewhere, the kept descriptors are closed and
/// fresh ones opened.
#[derive(Debug, Default, Clone)]
pub struct Kept(Arc<Mutex<Option<Pair>>>);

/// The folder (when it can be opened) and the lock file.
type Pair = (Option<Listed<File>>, Listed<File>);

impl Kept {
    fn take(&self) -> Option<Pair> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn put(&self, folder: Option<Listed<File>>, file: Listed<File>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((folder, file));
    }

    /// Whether descriptors are kept (none while a lock taken with them is
    /// held, nor before the first lock).
    pub fn is_kept(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let (folder, file) = (self.folder.take(), self.file.take());
        let Some(file) = file else { return };
        if let Some(home) = self.home.take() {
            let unannounced = match (&folder, self.announced) {
                (Some(dir), true) => {
                    let (start, _) = Slot(self.slot).announced(self.mode);
                    ofd_lock(dir.get(), libc::F_UNLCK, start, 1).is_ok()
                }
                _ => true,
            };
            if unannounced && FileExt::unlock(file.get()).is_ok() {
                home.put(folder, file);
                return;
            }
        }
        // Closing releases: the folder (announcement) first, then the file.
        drop(folder);
        drop(file);
    }
}

/// Takes the lock on `path`, waiting up to `timeout` (`None`: forever).
///
/// After locking, the descriptor must still name the file at `path`: if the
/// lock file was deleted or replaced while we waited (the Python original's
/// `invalidate` deletes it), our lock is on an orphan nobody else will see,
/// so we start over on the file that is there now. And no other process of
/// this library may still hold a lock on an older lock file of that name
/// (see the module's documentation): then we start over once it is done.
pub fn acquire(path: &Path, mode: Mode, timeout: Option<Duration>) -> Result<Held> {
    acquire_creating(path, mode, timeout, crate::options::DEFAULT_FILE_MODE)
}

/// [`acquire`], creating a missing lock file with `file_mode` (exactly,
/// whatever the umask).
pub fn acquire_creating(
    path: &Path,
    mode: Mode,
    timeout: Option<Duration>,
    file_mode: u32,
) -> Result<Held> {
    acquire_kept(path, mode, timeout, &|| file_mode, None)
}

/// [`acquire`] on the descriptors kept in `kept` when there are some (and
/// they still name the lock file at `path`), else on fresh ones, which go
/// to `kept` when the lock is released. `file_mode` is asked for only when
/// the lock file has to be created.
pub fn acquire_kept(
    path: &Path,
    mode: Mode,
    timeout: Option<Duration>,
    file_mode: &dyn Fn() -> u32,
    kept: Option<&Kept>,
) -> Result<Held> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let slot = Slot::of(path);
    let mut reuse = kept.and_then(Kept::take);
    let mut pause = Duration::from_micros(20);
    loop {
        let fresh = reuse.is_none();
        let (folder, file) = match reuse.take() {
            Some(pair) => pair,
            None => {
                let folder = open_folder(path)?;
                let file = Listed::open(|| {
                    open_lock_file_with(folder.as_ref().map(Listed::get), path, file_mode)
                })?;
                (folder, file)
            }
        };
        // Readers and writers hold the turnstile until their flock is
        // granted (on any failure below, closing the descriptor lets it go).
        let turnstile = pass_turnstile(file.get(), mode, timeout, deadline, path)?;
        wait_for(file.get(), mode, timeout, deadline, path)?;
        if turnstile {
            // Let the readers and writers behind us in.
            let _ = ofd_lock(file.get(), libc::F_UNLCK, 0, 1);
        }
        let announced = folder
            .as_ref()
            .is_some_and(|dir| slot.announce(dir.get(), mode));
        let at_path = still_at_path(file.get(), path)?;
        if at_path
            && !(announced && slot.contended(folder.as_ref().map(Listed::get).unwrap(), mode)?)
        {
            // A lock file opened read-only (a read-only folder) is not kept:
            // once the folder is writable again, a fresh descriptor can take
            // the writer's turnstile.
            let keep = file.is_listed()
                && folder.as_ref().is_none_or(Listed::is_listed)
                && (!fresh || opened_for_writing(file.get()));
            return Ok(Held {
                folder,
                announced,
                file: Some(file),
                slot: slot.0,
                mode,
                home: kept.filter(|_| keep).cloned(),
            });
        }
        // Closing releases everything taken on these descriptors.
        drop(folder);
        drop(file);
        if !at_path {
            // Locked a file that was deleted or replaced meanwhile.
            continue;
        }
        // Another process of ours holds a lock file of this name that has
        // since been replaced: let go of everything and wait for it.
        check_deadline(timeout, deadline, path)?;
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// The bytes of the folder announcing holders of one lock file name: `2h`
/// for readers, `2h + 1` for writers, `h` a 61-bit FNV-1a hash of the name
/// (fixed across versions and processes, so any two of them agree).
struct Slot(i64);

impl Slot {
    fn of(path: &Path) -> Slot {
        let name = path.file_name().map(|n| n.as_bytes()).unwrap_or_default();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in name {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Slot(((h & ((1 << 61) - 1)) * 2) as i64)
    }

    /// The byte announcing a holder in `mode`, and its length.
    fn announced(&self, mode: Mode) -> (i64, i64) {
        match mode {
            Mode::Shared => (self.0, 1),
            Mode::Exclusive => (self.0 + 1, 1),
        }
    }

    /// Announces a holder in `mode` (a read lock: it never waits, it only
    /// shows). False when the folder takes no byte-range locks.
    fn announce(&self, dir: &File, mode: Mode) -> bool {
        let (start, len) = self.announced(mode);
        ofd_lock(dir, libc::F_RDLCK, start, len).is_ok()
    }

    /// Does another process announce a mode that conflicts with `mode`?
    fn contended(&self, dir: &File, mode: Mode) -> Result<bool> {
        let (start, len) = match mode {
            // A reader conflicts with writers only.
            Mode::Shared => (self.0 + 1, 1),
            Mode::Exclusive => (self.0, 2),
        };
        // SAFETY: an all-zero flock is a valid value; the fields that matter
        // are set below (l_pid must stay 0 for OFD locks).
        let mut probe: libc::flock = unsafe { std::mem::zeroed() };
        probe.l_type = libc::F_WRLCK as libc::c_short;
        probe.l_whence = libc::SEEK_SET as libc::c_short;
        probe.l_start = start;
        probe.l_len = len;
        // SAFETY: a valid descriptor and a valid flock struct.
        if unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_OFD_GETLK, &mut probe) } != 0 {
            return Err(Error::new(
                ErrorKind::Lock,
                format!(
                    "cannot test the folder's lock: {}",
                    io::Error::last_os_error()
                ),
            ));
        }
        Ok(probe.l_type != libc::F_UNLCK as libc::c_short)
    }
}

/// The folder of `path`, opened for announcing. `None` when it cannot be
/// opened for reading (a folder with execute-only permission): then only the
/// lock file excludes, as in the Python original.
fn open_folder(path: &Path) -> Result<Option<Listed<File>>> {
    let folder = folder_of(path);
    match Listed::open(|| {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(folder)
    }) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => Ok(None),
        Err(e) => Err(Error::new(
            ErrorKind::Lock,
            format!("cannot open folder {} to lock in it: {e}", folder.display()),
        )),
    }
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Takes the turnstile (see the module's documentation) on the lock file's
/// descriptor, exclusive for a writer and shared for a reader, to be held
/// until the flock is granted: true when taken. Where OFD locks are
/// unavailable (a file system without them, a lock file opened read-only)
/// there is no turnstile, only the flocks.
fn pass_turnstile(
    file: &File,
    mode: Mode,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    path: &Path,
) -> Result<bool> {
    let kind = match mode {
        Mode::Shared => libc::F_RDLCK,
        Mode::Exclusive => libc::F_WRLCK,
    };
    match poll(timeout, deadline, path, || ofd_lock(file, kind, 0, 1)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::LockTimeout => Err(e),
        Err(_) => Ok(false),
    }
}

fn opened_for_writing(file: &File) -> bool {
    // SAFETY: a valid descriptor.
    let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
    flags >= 0 && flags & libc::O_ACCMODE == libc::O_RDWR
}

/// One non-blocking OFD lock request on `len` bytes of `file` from `start`.
fn ofd_lock(file: &File, kind: libc::c_int, start: i64, len: i64) -> io::Result<()> {
    // SAFETY: an all-zero flock is a valid value; the fields that matter
    // are set below (l_pid must stay 0 for OFD locks).
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = start;
    lock.l_len = len;
    // SAFETY: a valid descriptor and a valid flock struct.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &lock) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Polls a non-blocking flock until it is granted or the deadline passes.
fn wait_for(
    file: &File,
    mode: Mode,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    path: &Path,
) -> Result<()> {
    poll(timeout, deadline, path, || match mode {
        Mode::Shared => FileExt::try_lock_shared(file),
        Mode::Exclusive => FileExt::try_lock_exclusive(file),
    })
}

/// Repeats a non-blocking lock request, pausing longer each time, until it
/// is granted or the deadline passes.
fn poll(
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    path: &Path,
    mut attempt: impl FnMut() -> io::Result<()>,
) -> Result<()> {
    let mut pause = Duration::from_micros(20);
    loop {
        match attempt() {
            Ok(()) => return Ok(()),
            Err(e) if is_contended(&e) => {
                check_deadline(timeout, deadline, path)?;
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(5));
            }
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Lock,
                    format!("cannot lock {}: {e}", path.display()),
                ))
            }
        }
    }
}

fn check_deadline(timeout: Option<Duration>, deadline: Option<Instant>, path: &Path) -> Result<()> {
    match deadline {
        Some(d) if Instant::now() >= d => Err(Error::new(
            ErrorKind::LockTimeout,
            format!(
                "timed out after {} ms waiting for the lock on {}",
                timeout.unwrap_or_default().as_millis(),
                path.display()
            ),
        )),
        _ => Ok(()),
    }
}

fn is_contended(e: &io::Error) -> bool {
    // flock says EWOULDBLOCK; fcntl may say EACCES or EAGAIN.
    e.kind() == io::ErrorKind::WouldBlock
        || matches!(
            e.raw_os_error(),
            Some(libc::EWOULDBLOCK) | Some(libc::EACCES)
        )
}

/// Opens (creating) the lock file, never through a symbolic link and never
/// blocking (a FIFO planted at its name is refused at once, as is anything
/// but a regular file); inside `folder` when given, so that the file is in
/// the folder we announce on even if the folder's path is swapped meanwhile.
pub(crate) fn open_lock_file(folder: Option<&File>, path: &Path, file_mode: u32) -> Result<File> {
    open_lock_file_with(folder, path, &|| file_mode)
}

/// [`open_lock_file`], asking for the mode only when the file is created.
fn open_lock_file_with(
    folder: Option<&File>,
    path: &Path,
    file_mode: &dyn Fn() -> u32,
) -> Result<File> {
    let file = open_lock_file_any(folder, path, file_mode)?;
    let meta = file
        .metadata()
        .map_err(|e| Error::new(ErrorKind::Lock, format!("cannot stat lock file: {e}")))?;
    match super::io::not_regular(&meta) {
        None => Ok(file),
        Some(kind) => Err(Error::new(
            ErrorKind::Lock,
            format!(
                "refusing to use lock file {}: it is {kind}, not a regular file",
                path.display()
            ),
        )),
    }
}

fn open_lock_file_any(
    folder: Option<&File>,
    path: &Path,
    file_mode: &dyn Fn() -> u32,
) -> Result<File> {
    // The common case, an existing file, costs one open; a missing one is
    // created exclusively, so that only its creator sets its mode.
    let open = |write: bool| -> io::Result<File> {
        loop {
            match open_at(folder, path, write, false, 0) {
                Err(e) if write && e.kind() == io::ErrorKind::NotFound => {}
                other => return other,
            }
            let file_mode = file_mode();
            match open_at(folder, path, write, true, file_mode) {
                Ok(f) => {
                    // Exactly `file_mode`, whatever the umask.
                    f.set_permissions(std::fs::Permissions::from_mode(file_mode))?;
                    return Ok(f);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    };
    match open(true) {
        Ok(f) => Ok(f),
        // A read-only folder can still be read under an existing lock file.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EROFS)) => {
            open(false).map_err(|_| lock_open_error(path, e))
        }
        Err(e) => Err(lock_open_error(path, e)),
    }
}

/// Opens the lock file, in `folder` when given; `create` makes it, and only
/// if it does not exist.
fn open_at(
    folder: Option<&File>,
    path: &Path,
    write: bool,
    create: bool,
    file_mode: u32,
) -> io::Result<File> {
    {
        let Some(dir) = folder else {
            return OpenOptions::new()
                .read(true)
                .write(write)
                .create_new(create)
                .mode(file_mode)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
                .open(path);
        };
        let name = path.file_name().unwrap_or_default();
        let name = CString::new(name.as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let flags = libc::O_NOFOLLOW
            | libc::O_CLOEXEC
            | libc::O_NONBLOCK
            | if write { libc::O_RDWR } else { libc::O_RDONLY }
            | if create {
                libc::O_CREAT | libc::O_EXCL
            } else {
                0
            };
        // SAFETY: a valid folder descriptor and a NUL-terminated name.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                flags,
                file_mode as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        Ok(unsafe { File::from_raw_fd(fd) })
    }
}

fn lock_open_error(path: &Path, e: io::Error) -> Error {
    let why = if e.raw_os_error() == Some(libc::ELOOP) {
        "it is a symbolic link".to_string()
    } else {
        e.to_string()
    };
    Error::new(
        ErrorKind::Lock,
        format!("cannot open lock file {}: {why}", path.display()),
    )
}

fn still_at_path(file: &File, path: &Path) -> Result<bool> {
    let held = file
        .metadata()
        .map_err(|e| Error::new(ErrorKind::Lock, format!("cannot stat lock file: {e}")))?;
    if held.nlink() == 0 {
        return Ok(false);
    }
    match std::fs::symlink_metadata(path) {
        Ok(now) => Ok(now.dev() == held.dev() && now.ino() == held.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::new(
            ErrorKind::Lock,
            format!("cannot stat lock file {}: {e}", path.display()),
        )),
    }
}

/// `<dir>/<name>.lock`.
pub fn lock_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.lock"))
}
