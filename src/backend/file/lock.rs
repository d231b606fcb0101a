//! The inter-process lock: `flock(2)` on `<dir>/<name>.lock`, the same lock the
//! Python original takes through `filelock`, so the two exclude each other.
//! (The order of every lock, in-process ones included, is noted once, in
//! `src/cache.rs`.)
//!
//! Every operation opens its own descriptors and closes them when done. A
//! child made by `fork()` therefore never holds a descriptor it could unlock
//! the parent's lock with, except one inherited from an operation in progress
//! in another thread; those are listed (`fork::Listed`) and pointed at
//! `/dev/null` in the child, so that the child does not keep the lock held
//! (a flock or OFD lock lasts until the last copy is closed) after the parent
//! is done (see `fork`).
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
//! writer asking for the exclusive lock never gets it. So a writer first
//! takes a turnstile, an exclusive OFD byte-range lock on the first byte of
//! the lock file, and holds it until it has its flocks; every reader passes
//! through the turnstile (takes it shared, lets it go) before its own flock.
//! Readers that arrive while a writer waits therefore wait behind it, the
//! readers already in finish, and the writer gets in. On Linux OFD locks and
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

/// A held lock; dropping it closes the descriptors, which releases the lock
/// (the announcement on the folder first, then the lock file: fields drop in
/// order, so a successor never finds our announcement still there).
#[derive(Debug)]
pub struct Held {
    _announcement: Option<Listed<File>>,
    _file: Listed<File>,
    pub mode: Mode,
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
    let deadline = timeout.map(|t| Instant::now() + t);
    // A writer lets the turnstile go once its flock is granted (below);
    // whatever happens, it goes when `_turnstile` is dropped.
    let _turnstile = pass_turnstile(path, mode, timeout, deadline, file_mode)?;
    let slot = Slot::of(path);
    let mut pause = Duration::from_micros(20);
    loop {
        let folder = open_folder(path)?;
        let file =
            Listed::open(|| open_lock_file(folder.as_ref().map(Listed::get), path, file_mode))?;
        wait_for(file.get(), mode, timeout, deadline, path)?;
        let announcement = folder.filter(|dir| slot.announce(dir.get(), mode));
        if !still_at_path(file.get(), path)? {
            continue;
        }
        match &announcement {
            Some(dir) if slot.contended(dir.get(), mode)? => {}
            _ => {
                return Ok(Held {
                    _announcement: announcement,
                    _file: file,
                    mode,
                })
            }
        }
        // Another process of ours holds a lock file of this name that has
        // since been replaced: let go of everything and wait for it.
        drop(announcement);
        drop(file);
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

    /// Announces a holder in `mode` (a read lock: it never waits, it only
    /// shows). False when the folder takes no byte-range locks.
    fn announce(&self, dir: &File, mode: Mode) -> bool {
        let (start, len) = match mode {
            Mode::Shared => (self.0, 1),
            Mode::Exclusive => (self.0 + 1, 1),
        };
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

/// Takes the turnstile (see the module's documentation): a writer gets it
/// back, held; a reader gets `None`, having waited for any writer ahead.
/// Where OFD locks are unavailable (a file system without them, a lock file
/// opened read-only) there is no turnstile, only the flocks.
fn pass_turnstile(
    path: &Path,
    mode: Mode,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    file_mode: u32,
) -> Result<Option<Listed<File>>> {
    let file = match Listed::open(|| open_lock_file(None, path, file_mode)) {
        Ok(f) => f,
        // The flocks that follow report the problem with the lock file.
        Err(_) => return Ok(None),
    };
    let kind = match mode {
        Mode::Shared => libc::F_RDLCK,
        Mode::Exclusive => libc::F_WRLCK,
    };
    match poll(timeout, deadline, path, || ofd_lock(file.get(), kind, 0, 1)) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::LockTimeout => return Err(e),
        Err(_) => return Ok(None),
    }
    Ok(match mode {
        Mode::Exclusive => Some(file),
        // Dropping the descriptor releases the OFD lock at once.
        Mode::Shared => None,
    })
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

fn open_lock_file_any(folder: Option<&File>, path: &Path, file_mode: u32) -> Result<File> {
    // The common case, an existing file, costs one open; a missing one is
    // created exclusively, so that only its creator sets its mode.
    let open = |write: bool| -> io::Result<File> {
        loop {
            match open_at(folder, path, write, false, file_mode) {
                Err(e) if write && e.kind() == io::ErrorKind::NotFound => {}
                other => return other,
            }
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
