//! The cache file's I/O: opening without following links, reading,
//! appending with rollback, atomic replacement through a temporary file,
//! cleaning up crashed writers' temporary files, and keeping an unreadable
//! file aside. No knowledge of the format beyond the bytes an append
//! overwrites ([`TAIL`]).
//!
//! * A whole new file ([`replace`]) is written to a temporary file in the same
//!   folder and renamed over the cache file: readers see the old or the new
//!   file, never a mix.
//! * An append ([`Opened::append_at`]) writes over the old tail; on failure
//!   the old tail and size are put back.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{
    fchown, DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt,
};
use std::path::{Path, PathBuf};

use super::format::{new_rev, TAIL};
use crate::error::{Error, Result};

/// `<dir>/<name>.json`.
pub fn cache_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

/// The cache file opened for one operation.
pub struct Opened {
    pub file: File,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
}

/// Opens the cache file (never through a symlink); `None` when absent.
pub fn open(path: &Path, write: bool) -> Result<Option<Opened>> {
    let file = match OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Error::new(
                crate::error::ErrorKind::Io,
                format!("refusing to open {}: it is a symbolic link", path.display()),
            ))
        }
        Err(e) => return Err(Error::io("open", path, e)),
    };
    let meta = file.metadata().map_err(|e| Error::io("stat", path, e))?;
    if !meta.is_file() {
        return Err(Error::new(
            crate::error::ErrorKind::Io,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok(Some(Opened {
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.len(),
        file,
    }))
}

impl Opened {
    /// Reads `len` bytes from `offset`.
    pub fn read_at(&self, offset: u64, len: u64, path: &Path) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len as usize];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| Error::io("read", path, e))?;
        Ok(buf)
    }

    /// Reads the whole file, however long it is now.
    pub fn read_all(&self, path: &Path) -> Result<Vec<u8>> {
        // Assets read from the file keep pointing into this buffer.
        let mut buf = crate::memory::vec_with_capacity(self.size as usize + 1);
        (&self.file)
            .read_to_end(&mut buf)
            .map_err(|e| Error::io("read", path, e))?;
        Ok(buf)
    }

    /// Writes `bytes` at `offset` (the old tail's), making the file end there.
    /// On failure the old tail and size are put back, so the file is as it was.
    pub fn append_at(
        &mut self,
        offset: u64,
        bytes: &[u8],
        durable: bool,
        path: &Path,
    ) -> Result<u64> {
        let result = self.file.write_all_at(bytes, offset).and_then(|()| {
            if durable {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        match result {
            Ok(()) => {
                self.size = offset + bytes.len() as u64;
                Ok(self.size)
            }
            Err(e) => {
                let _ = self.file.write_all_at(TAIL, offset);
                let _ = self.file.set_len(offset + TAIL.len() as u64);
                Err(Error::io("append to", path, e))
            }
        }
    }
}

/// Replaces the cache file by `bytes` atomically: a new file created in the
/// same folder (exclusively, never through a symlink, readable by its owner
/// only), written, flushed, given the old file's mode, owner and group (where
/// this process may set them) or `new_mode` when there is no old file, and
/// renamed over the old one. On failure the temporary file is removed.
pub fn replace(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    durable: bool,
    new_mode: u32,
) -> Result<(u64, u64)> {
    let target = cache_path(dir, name);
    let (tmp_path, mut tmp) = create_temp(dir, name)?;
    let written = tmp
        .write_all(bytes)
        .and_then(|()| if durable { tmp.sync_all() } else { Ok(()) })
        .map_err(|e| Error::io("write", &tmp_path, e))
        .and_then(|()| {
            take_over_permissions(&tmp, &target, new_mode)
                .map_err(|e| Error::io("set the permissions of", &tmp_path, e))
        })
        .and_then(|()| tmp.metadata().map_err(|e| Error::io("stat", &tmp_path, e)))
        .and_then(|meta| {
            fs::rename(&tmp_path, &target)
                .map(|()| (meta.dev(), meta.ino()))
                .map_err(|e| Error::io("rename into place", &target, e))
        });
    if written.is_err() {
        let _ = fs::remove_file(&tmp_path);
    } else if durable {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    written
}

fn temp_prefix(name: &str) -> String {
    format!(".{name}.json.tmp-")
}

/// Gives the new file `tmp` the permissions of the file it replaces: its
/// mode, and its owner and group where this process may set them (root may
/// set both; a member of the file's group may set the group, which keeps a
/// cache shared by a group writable by it). With no file to replace, the
/// mode is `new_mode`, exactly (whatever the umask).
fn take_over_permissions(tmp: &File, target: &Path, new_mode: u32) -> io::Result<()> {
    let mode = match fs::symlink_metadata(target) {
        Ok(old) if old.is_file() => {
            let (uid, gid) = (old.uid(), old.gid());
            // Owner and group first: changing them may clear set-id bits.
            if fchown(tmp, Some(uid), Some(gid)).is_err() {
                let _ = fchown(tmp, None, Some(gid));
            }
            old.mode() & 0o7777
        }
        _ => new_mode,
    };
    tmp.set_permissions(fs::Permissions::from_mode(mode))
}

/// Creates `dir` and its missing parents, each with `mode` exactly (plus
/// the set-group-ID bit a folder inherits from a set-group-ID parent, which
/// keeps the group of a shared tree). With `durable`, each new folder's
/// entry is flushed into its parent (fsync of the parent), so that a power
/// loss cannot take away a folder holding an acknowledged write. Folders
/// that exist are left as they are.
pub fn create_folder(dir: &Path, mode: u32, durable: bool) -> Result<()> {
    let mut missing = Vec::new();
    let mut p = dir;
    loop {
        match fs::metadata(p) {
            Ok(m) if m.is_dir() => break,
            Ok(_) => {
                return Err(Error::io(
                    "create folder",
                    dir,
                    io::Error::from_raw_os_error(libc::ENOTDIR),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(p);
                match p.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => p = parent,
                    _ => break,
                }
            }
            Err(e) => return Err(Error::io("create folder", dir, e)),
        }
    }
    for &p in missing.iter().rev() {
        match fs::DirBuilder::new().mode(mode & 0o777).create(p) {
            Ok(()) => {}
            // Another process made it meanwhile: theirs stands.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && p.is_dir() => continue,
            Err(e) => return Err(Error::io("create folder", p, e)),
        }
        let made = fs::metadata(p).map_err(|e| Error::io("stat", p, e))?;
        let want = mode | (made.mode() & libc::S_ISGID);
        if made.mode() & 0o7777 != want {
            fs::set_permissions(p, fs::Permissions::from_mode(want))
                .map_err(|e| Error::io("set the mode of folder", p, e))?;
        }
        if durable {
            let parent = match p.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io("flush folder", parent, e))?;
        }
    }
    Ok(())
}

fn create_temp(dir: &Path, name: &str) -> Result<(PathBuf, File)> {
    loop {
        let path = dir.join(format!(
            "{}{}-{}",
            temp_prefix(name),
            std::process::id(),
            &new_rev()[..16]
        ));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            // Private from its creation; its final mode is set before the
            // rename (`take_over_permissions`).
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
        {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io("create temporary file", &path, e)),
        }
    }
}

/// Removes temporary files left by writers that crashed. Only called under the
/// exclusive lock, when no live writer of this cache can have one open.
pub fn remove_stale_temps(dir: &Path, name: &str) -> usize {
    let prefix = temp_prefix(name);
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let ours = rest.split_once('-').is_some_and(|(pid, hex)| {
            !pid.is_empty()
                && pid.bytes().all(|b| b.is_ascii_digit())
                && hex.len() == 16
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        });
        if ours && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Moves an unreadable file aside to `<name>.json.corrupt` (or `.corrupt.N`
/// when that exists), so nothing is destroyed.
pub fn quarantine(path: &Path) -> Result<PathBuf> {
    let base = format!("{}.corrupt", path.display());
    let mut n = 0;
    loop {
        let aside = if n == 0 {
            PathBuf::from(&base)
        } else {
            PathBuf::from(format!("{base}.{n}"))
        };
        if fs::symlink_metadata(&aside).is_err() {
            fs::rename(path, &aside).map_err(|e| Error::io("move aside", path, e))?;
            return Ok(aside);
        }
        n += 1;
    }
}

/// The mtime of the folder in nanoseconds: it changes when a file is created
/// in it, which is how a writer notices a crashed writer's temporary file
/// without listing the folder on every add.
pub fn dir_stamp(dir: &Path) -> Option<(i64, i64)> {
    fs::metadata(dir).ok().map(|m| (m.mtime(), m.mtime_nsec()))
}
