//! The inter-process lock: `flock(2)` on `<dir>/<name>.lock`, the same lock the
//! Python original takes through `filelock`, so the two exclude each other.
//!
//! Every operation opens its own descriptor and closes it when done. A child
//! made by `fork()` therefore never holds a descriptor it could unlock the
//! parent's lock with, except one inherited mid-operation, which only keeps
//! the lock held longer (close releases a flock only when the last copy goes).

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

/// A held lock; dropping it closes the descriptor, which releases the lock.
#[derive(Debug)]
pub struct Held {
    _file: File,
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
    let mut pause = Duration::from_micros(20);
    loop {
        let file = open_lock_file(path)?;
        loop {
            let attempt = match mode {
                Mode::Shared => FileExt::try_lock_shared(&file),
                Mode::Exclusive => FileExt::try_lock_exclusive(&file),
            };
            match attempt {
                Ok(()) => break,
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
        if still_at_path(&file, path)? {
            return Ok(Held { _file: file, mode });
        }
    }
}

fn is_contended(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(libc::EWOULDBLOCK)
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
