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
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
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
/// same folder (exclusively, never through a symlink), written, flushed, and
/// renamed over the old one. On failure the temporary file is removed.
pub fn replace(dir: &Path, name: &str, bytes: &[u8], durable: bool) -> Result<(u64, u64)> {
    let target = cache_path(dir, name);
    let (tmp_path, mut tmp) = create_temp(dir, name)?;
    let written = tmp
        .write_all(bytes)
        .and_then(|()| if durable { tmp.sync_all() } else { Ok(()) })
        .map_err(|e| Error::io("write", &tmp_path, e))
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
            .mode(0o666)
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
