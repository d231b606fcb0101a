//! The cache file's I/O: opening without following links, reading, writing a
//! record in place with rollback, atomic replacement through a temporary
//! file, cleaning up crashed writers' temporary files, and keeping an
//! unreadable file aside. No knowledge of the format.
//!
//! * A whole new file ([`replace`]) is written to a temporary file in the same
//!   folder and renamed over the cache file: readers see the old or the new
//!   file, never a mix.
//! * A record ([`Opened::write_in_place`]) is one `pwrite` over spaces; on
//!   failure the spaces are put back.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{
    fchown, DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

/// `<dir>/<name>.json`.
pub fn cache_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

/// The cache file opened for one operation (shared with the backend, which
/// keeps a read-write descriptor between writes: see `FileBackend::open_for_write`).
pub struct Opened {
    pub file: Arc<File>,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
}

/// The largest cache file read or written, in bytes: 4 GiB. Past it a file
/// is treated as unreadable (kept aside, never read), so that a planted or
/// runaway file (a sparse 100 GB one costs no disk) cannot make the host
/// process allocate its size. Memory for a cache is about 1.1x its file.
pub const MAX_FILE_BYTES: u64 = 4 << 30;

/// Opens the cache file (never through a symlink, never blocking: a FIFO
/// planted at its name is refused at once, as is anything but a regular
/// file); `None` when absent.
pub fn open(path: &Path, write: bool) -> Result<Option<Opened>> {
    let file = match OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
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
    if let Some(kind) = not_regular(&meta) {
        return Err(Error::new(
            crate::error::ErrorKind::Io,
            format!(
                "refusing to use {}: it is {kind}, not a regular file",
                path.display()
            ),
        ));
    }
    Ok(Some(Opened {
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.len(),
        file: Arc::new(file),
    }))
}

/// What a file that is not a regular file is, for a message; `None` for a
/// regular file.
pub fn not_regular(meta: &fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_symlink() {
        Some("a symbolic link")
    } else {
        Some("not a regular file")
    }
}

/// `len` zeroed bytes, or NO_MEMORY naming the file when they cannot be had.
fn try_buffer(len: u64, path: &Path) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    usize::try_from(len)
        .ok()
        .and_then(|n| buf.try_reserve_exact(n).ok().map(|()| n))
        .map(|n| {
            buf.resize(n, 0);
            buf
        })
        .ok_or_else(|| no_memory(len, path))
}

fn no_memory(len: u64, path: &Path) -> Error {
    Error::new(
        crate::error::ErrorKind::NoMemory,
        format!(
            "cannot allocate {len} bytes to read {}: out of memory",
            path.display()
        ),
    )
}

/// Why a write of a file of `size` bytes is refused, if it is.
pub fn check_size(size: u64, path: &Path) -> Result<()> {
    if size > MAX_FILE_BYTES {
        return Err(Error::new(
            crate::error::ErrorKind::Io,
            format!(
                "cannot write {}: it would be {size} bytes, over the {MAX_FILE_BYTES}-byte limit \
                 (ASSET_CACHE_MAX_FILE_BYTES)",
                path.display()
            ),
        ));
    }
    Ok(())
}

impl Opened {
    /// Reads `len` bytes from `offset` (NO_MEMORY when they cannot be had).
    pub fn read_at(&self, offset: u64, len: u64, path: &Path) -> Result<Vec<u8>> {
        let mut buf = try_buffer(len, path)?;
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| Error::io("read", path, e))?;
        Ok(buf)
    }

    /// Reads the whole file, at most [`MAX_FILE_BYTES`] + 1 bytes of it (the
    /// caller checks the length). An allocation that fails, the first one or
    /// one for a file that grew meanwhile, gives NO_MEMORY, never an abort.
    pub fn read_all(&self, path: &Path) -> Result<Vec<u8>> {
        let want = self.size.min(MAX_FILE_BYTES) + 1;
        // Assets read from the file keep pointing into this buffer.
        let mut buf = usize::try_from(want)
            .ok()
            .and_then(crate::memory::try_vec_with_capacity)
            .ok_or_else(|| no_memory(want, path))?;
        // From the start: a descriptor kept from an earlier write has its
        // offset wherever an earlier whole read left it.
        (&*self.file)
            .seek(io::SeekFrom::Start(0))
            .map_err(|e| Error::io("read", path, e))?;
        // std's read_to_end grows the buffer with try_reserve and reports a
        // failure as ErrorKind::OutOfMemory.
        (&*self.file)
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| match e.kind() {
                io::ErrorKind::OutOfMemory => no_memory(self.size, path),
                _ => Error::io("read", path, e),
            })?;
        Ok(buf)
    }

    /// Writes `bytes` (a record, inside one page) over the reservoir's
    /// spaces at `offset`, in one `pwrite`. On failure the spaces are put
    /// back, so the file is as it was.
    pub fn write_in_place(
        &mut self,
        offset: u64,
        bytes: &[u8],
        durable: bool,
        path: &Path,
    ) -> Result<()> {
        let result = self.file.write_all_at(bytes, offset).and_then(|()| {
            if durable {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        result.map_err(|e| {
            let _ = self.file.write_all_at(&vec![b' '; bytes.len()], offset);
            Error::io("write to", path, e)
        })
    }
}

impl Opened {
    /// Overwrites the file from `offset` to its end with `bytes` (inside one
    /// page: a splice, see `format::splice`), in one `pwrite`. On failure
    /// the old bytes and size are put back, so the file is as it was.
    pub fn splice_in_place(
        &mut self,
        offset: u64,
        bytes: &[u8],
        durable: bool,
        path: &Path,
    ) -> Result<()> {
        let old = self.read_at(offset, self.size.saturating_sub(offset), path)?;
        let result = self.file.write_all_at(bytes, offset).and_then(|()| {
            if durable {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        match result {
            Ok(()) => {
                self.size = self.size.max(offset + bytes.len() as u64);
                Ok(())
            }
            Err(e) => {
                let _ = self.file.write_all_at(&old, offset);
                let _ = self.file.set_len(self.size);
                Err(Error::io("write to", path, e))
            }
        }
    }
}

/// Replaces the cache file atomically by a new one holding the first
/// `prefix` bytes of `old` (copied in the kernel with `copy_file_range`, or
/// read and written where the file system cannot) followed by `suffix`;
/// otherwise as [`replace`] (same temporary file, permissions, rename and
/// `durable` flushes).
pub fn replace_with_prefix(
    dir: &Path,
    name: &str,
    old: &File,
    prefix: u64,
    suffix: &[u8],
    durable: bool,
    new_mode: u32,
) -> Result<(u64, u64)> {
    let len = prefix + suffix.len() as u64;
    replace_by(dir, name, len, durable, new_mode, |tmp| {
        copy_prefix(old, tmp, prefix)?;
        tmp.write_all(suffix)
    })
}

/// Copies the first `len` bytes of `from` to the start of `to` (whose
/// offset ends after them): in the kernel, without a pass through user
/// memory, where the file system allows (`copy_file_range`); otherwise read
/// and written a MiB at a time.
fn copy_prefix(from: &File, to: &File, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut done = 0u64;
    while done < len {
        let mut off_in = done as libc::loff_t;
        let want = (len - done).min(1 << 30) as usize;
        // SAFETY: both descriptors are open; the offset pointer is a local;
        // a null output offset writes at (and advances) `to`'s own offset.
        let n = unsafe {
            libc::copy_file_range(
                from.as_raw_fd(),
                &mut off_in,
                to.as_raw_fd(),
                std::ptr::null_mut(),
                want,
                0,
            )
        };
        if n > 0 {
            done += n as u64;
            continue;
        }
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ENOSYS | libc::EXDEV | libc::EINVAL | libc::EOPNOTSUPP | libc::EPERM) => {
                break
            }
            _ => return Err(e),
        }
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut to = to;
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        from.read_exact_at(&mut buf[..n], done)?;
        to.write_all(&buf[..n])?;
        done += n as u64;
    }
    Ok(())
}

/// Replaces the cache file by `bytes` atomically: a new file created in the
/// same folder (exclusively, never through a symlink, readable by its owner
/// only), written, flushed, given the old file's mode, owner and group (where
/// this process may set them) or `new_mode` when there is no old file, and
/// renamed over the old one. On failure the temporary file is removed.
///
/// `durable`: the file is fsynced before the rename and the folder after it,
/// so the rename survives a power cut. The folder is opened first: when it
/// cannot be (no free descriptor, say), the call fails with IO before
/// anything changed. If the folder's fsync itself fails, the call fails with
/// IO although the new file is in place (not known to be durable).
pub fn replace(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    durable: bool,
    new_mode: u32,
) -> Result<(u64, u64)> {
    replace_by(dir, name, bytes.len() as u64, durable, new_mode, |tmp| {
        tmp.write_all(bytes)
    })
}

/// [`replace`] and [`replace_with_prefix`]: the temporary file, the
/// permissions, the rename and the `durable` flushes, around `fill`, which
/// writes the new file's `len` bytes.
fn replace_by(
    dir: &Path,
    name: &str,
    len: u64,
    durable: bool,
    new_mode: u32,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(u64, u64)> {
    let target = cache_path(dir, name);
    check_size(len, &target)?;
    let folder = if durable {
        Some(
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(dir)
                .map_err(|e| Error::io("open (to fsync it) the folder", dir, e))?,
        )
    } else {
        None
    };
    let (tmp_path, mut tmp) = create_temp(dir, name)?;
    let written = fill(&mut tmp)
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
        return written;
    }
    if let Some(folder) = folder {
        folder
            .sync_all()
            .map_err(|e| Error::io("fsync the folder", dir, e))?;
    }
    written
}

/// `<dir>/.<name>.json.tmp`: one fixed name, used only under the exclusive
/// lock, so that a crashed writer's leftover is found without listing the
/// folder (whose size must not set the cost of an add).
pub fn temp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.json.tmp"))
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

/// "Not a directory (os error 20)" alone left users guessing which path was
/// wrong and why.
fn not_a_folder(dir: &Path, blocker: &Path, meta: &fs::Metadata) -> Error {
    Error::io_message(
        libc::ENOTDIR,
        format!(
            "cannot create folder {}: {} exists and is not a directory (it is {})",
            dir.display(),
            blocker.display(),
            not_regular(meta).unwrap_or("a regular file")
        ),
    )
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
            Ok(m) => return Err(not_a_folder(dir, p, &m)),
            // Something on the way is not a folder: name it.
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                let blocker = p
                    .ancestors()
                    .skip(1)
                    .find_map(|a| fs::metadata(a).ok().map(|m| (a, m)));
                return Err(match blocker {
                    Some((a, m)) if !m.is_dir() => not_a_folder(dir, a, &m),
                    _ => Error::io("create folder", dir, e),
                });
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

/// The fixed name is safe because two processes of this library never hold
/// the exclusive lock at once (see `lock`). Where that cannot be ensured (a
/// folder we may not read, so no announcement, and a lock file deleted under
/// a holder) two writers could meet here; that case already loses updates,
/// as the Python original does.
fn create_temp(dir: &Path, name: &str) -> Result<(PathBuf, File)> {
    let path = temp_path(dir, name);
    let mut removed = false;
    loop {
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
            // A crashed writer's leftover (or anything planted there, which
            // unlink removes without following or opening it): no live
            // writer can be using it while we hold the exclusive lock.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !removed => {
                fs::remove_file(&path).map_err(|e| Error::io("remove stale", &path, e))?;
                removed = true;
            }
            Err(e) => return Err(Error::io("create temporary file", &path, e)),
        }
    }
}

/// Removes the temporary file a crashed writer left, if any (one unlink of a
/// fixed name, never a listing). Only called under the exclusive lock.
pub fn remove_stale_temp(dir: &Path, name: &str) -> bool {
    fs::remove_file(temp_path(dir, name)).is_ok()
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
