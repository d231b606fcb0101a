//! The inter-process lock: `flock(2)` on `<dir>/<name>.lock`, the same lock the
//! Python original takes through `filelock`, so the two exclude each other.
//!
//! Every operation opens its own descriptor and closes it when done. A child
//! made by `fork()` therefore never holds a descriptor it could unlock the
//! parent's lock with, except one inherited mid-operation, which only keeps
//! the lock held longer (close releases a flock only when the last copy goes).
//!
//! Before the lock file, the library also flocks the folder itself, in the
//! same mode. The lock file can be deleted or replaced under a holder (the
//! Python original's `invalidate` deletes it without locking): a newcomer then
//! locks the new file while the holder still holds the old one. The folder
//! cannot be swapped that way, so processes of this library never hold the
//! lock at once, whatever happens to the lock file. (Python processes only
//! take the lock file.) The cost: writers of different caches in one folder
//! wait for each other.
//!
//! flock has no queue: while readers' shared locks overlap without a gap, a
//! writer asking for the exclusive lock never gets it. So a writer first
//! takes a turnstile, an exclusive OFD byte-range lock (`fcntl`) on the
//! first byte of the lock file, and holds it until it has its flocks; every
//! reader passes through the turnstile (takes it shared, lets it go) before
//! its own flocks. Readers that arrive while a writer waits therefore wait
//! behind it, the readers already in finish, and the writer gets in. On Linux
//! OFD locks and flocks are independent, so the turnstile does not touch the
//! Python original's `filelock` (whose writers are not queued by it).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use fs2::FileExt;

use crate::error::{Error, ErrorKind, Result};

/// Shared for reading, exclusive for writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Shared,
    Exclusive,
}

/// A held lock; dropping it closes the descriptors, which releases the lock
/// (the lock file first, then the folder: fields drop in order).
#[derive(Debug)]
pub struct Held {
    _file: File,
    _dir: Option<File>,
    pub mode: Mode,
}

/// Takes the lock on `path`, waiting up to `timeout` (`None`: forever).
///
/// After locking, the descriptor must still name the file at `path`: if the
/// lock file was deleted or replaced while we waited (the Python original's
/// `invalidate` deletes it), our lock is on an orphan nobody else will see,
/// so we start over on the file that is there now.
pub fn acquire(path: &Path, mode: Mode, timeout: Option<Duration>) -> Result<Held> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let turnstile = pass_turnstile(path, mode, timeout, deadline)?;
    let dir = lock_folder(path, mode, timeout, deadline)?;
    // A writer lets the turnstile go once its flocks are granted (below);
    // whatever happens, it goes when `turnstile` is dropped.
    let _turnstile = turnstile;
    loop {
        let file = open_lock_file(path)?;
        wait_for(&file, mode, timeout, deadline, path)?;
        if still_at_path(&file, path)? {
            return Ok(Held {
                _file: file,
                _dir: dir,
                mode,
            });
        }
    }
}

/// Flocks the folder of `path`. `None` when the folder cannot be opened for
/// reading (a folder with execute-only permission): then only the lock file
/// excludes, as in the Python original.
fn lock_folder(
    path: &Path,
    mode: Mode,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
) -> Result<Option<File>> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    loop {
        let dir = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(folder)
        {
            Ok(d) => d,
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => return Ok(None),
            Err(e) => return Err(folder_error(folder, e)),
        };
        wait_for(&dir, mode, timeout, deadline, path)?;
        // A folder replaced while we waited: lock the one there now. (The
        // folder may be a symbolic link: compare with what it points to.)
        let now = std::fs::metadata(folder).map_err(|e| folder_error(folder, e))?;
        let held = dir
            .metadata()
            .map_err(|e| Error::new(ErrorKind::Lock, format!("cannot stat folder: {e}")))?;
        if now.dev() == held.dev() && now.ino() == held.ino() {
            return Ok(Some(dir));
        }
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
) -> Result<Option<File>> {
    let file = match open_lock_file(path) {
        Ok(f) => f,
        // The flocks that follow report the problem with the lock file.
        Err(_) => return Ok(None),
    };
    let kind = match mode {
        Mode::Shared => libc::F_RDLCK,
        Mode::Exclusive => libc::F_WRLCK,
    };
    match poll(timeout, deadline, path, || ofd_lock(&file, kind)) {
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

/// One non-blocking OFD lock request on the first byte of `file`.
fn ofd_lock(file: &File, kind: libc::c_int) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: an all-zero flock is a valid value; the fields that matter
    // are set below (l_pid must stay 0 for OFD locks).
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = 0;
    lock.l_len = 1;
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
                if let Some(d) = deadline {
                    if Instant::now() >= d {
                        return Err(Error::new(
                            ErrorKind::LockTimeout,
                            format!(
                                "timed out after {} ms waiting for the lock on {}",
                                timeout.unwrap_or_default().as_millis(),
                                path.display()
                            ),
                        ));
                    }
                }
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

fn is_contended(e: &io::Error) -> bool {
    // flock says EWOULDBLOCK; fcntl may say EACCES or EAGAIN.
    e.kind() == io::ErrorKind::WouldBlock
        || matches!(
            e.raw_os_error(),
            Some(libc::EWOULDBLOCK) | Some(libc::EACCES)
        )
}

fn open_lock_file(path: &Path) -> Result<File> {
    let open = |write: bool| {
        OpenOptions::new()
            .read(true)
            .write(write)
            .create(write)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
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

fn folder_error(folder: &Path, e: io::Error) -> Error {
    Error::new(
        ErrorKind::Lock,
        format!("cannot open folder {} to lock it: {e}", folder.display()),
    )
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
