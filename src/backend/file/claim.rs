//! Single-flight claims: who, in the whole fleet of processes and threads
//! sharing a cache, runs the fetch for an id (or the list-everything fetch
//! of a refresh-all) while the others wait for its result.
//!
//! # Design
//!
//! A claim is a **lock, not a lease file**: an exclusive OFD byte-range lock
//! (`fcntl(F_OFD_SETLK)`) on `<dir>/<name>.lock`, the file the cache already
//! locks, at a byte derived from what is claimed:
//!
//! ```text
//! byte 0                 the writer turnstile (see `lock.rs`): never a claim
//! byte 1                 refresh-all (the list-everything fetch)
//! 2^20 + (h mod 2^40)    the id whose stable hash is h
//! ```
//!
//! * **A dead fetcher releases at once.** The kernel drops an OFD lock when
//!   the last descriptor of its open file description closes, which happens
//!   when the process dies, SIGKILL included. There is nothing to expire and
//!   nothing to clean up: the next waiter's poll succeeds.
//! * **Threads single-flight too.** OFD locks belong to an open file
//!   description, not to a process, so two separate opens conflict even in
//!   one process (POSIX `F_SETLK` locks would not). Every claim opens the lock
//!   file anew.
//! * **The Python original is unaffected.** On Linux OFD locks and `flock(2)`
//!   locks are independent, so a claim never blocks Python's `filelock`, nor
//!   our own readers and writers (which flock): claims are held across a
//!   whole fetch, and the cache stays readable and writable meanwhile.
//! * **The same byte in every process and language.** The offset comes from
//!   FNV-1a 64 of the id's UTF-8 bytes, a fixed function: not the store's
//!   index hash, which is keyed per process. Any implementation (a Go or
//!   Python one) that claims the same byte single-flights with us. Two ids
//!   whose hashes collide modulo 2^40 only take turns; they never share a
//!   fetch, since the winner re-reads the store for its own id.
//! * **Waits are bounded** by the cache's lock timeout and polled, with a
//!   pause that doubles from 20 us to 5 ms, as the cache's lock is; a wait
//!   that runs out is `LockTimeout`.
//! * **After getting a claim, re-read the store before fetching** (the
//!   caller's duty, done by `AssetCache`): the previous holder has usually
//!   just added the asset, and then no fetch is needed.
//!
//! What a claim does not promise: mutual exclusion when the lock file is
//! deleted and recreated under a holder (the Python original's `invalidate`
//! does that). A newcomer then claims the same byte on the new file while the
//! holder keeps the old one; the only cost is one duplicate fetch, since the
//! data itself is still written under the cache's lock.
//!
//! A child made by `fork()` while a claim is held does not hold it: the
//! claim's descriptor is listed with the cache's other lock descriptors
//! (`fork::Listed`), whose copies in a child are pointed at `/dev/null`.
//!
//! A Redis backend will claim with `SET key NX PX` instead; the cache's
//! single-flight operations only need [`Claim`]'s two outcomes (held, or
//! timed out) and its release on drop.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::fork::Listed;

/// What a claim is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// The fetch of one asset, by the id it is looked up by.
    Id(&'a str),
    /// The list-everything fetch that replaces the whole store.
    All,
}

/// The byte of the refresh-all claim.
pub const ALL_OFFSET: i64 = 1;
/// Where id claims start: clear of the turnstile, the refresh-all byte and
/// any fixed-purpose byte added later below it.
pub const ID_BASE: i64 = 1 << 20;
/// Id claims spread over this many bytes.
pub const ID_SPAN: u64 = 1 << 40;

/// FNV-1a, 64 bits: a fixed hash every process and language can compute.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The lock-file byte that claims `target`.
pub fn offset(target: Target<'_>) -> i64 {
    match target {
        Target::All => ALL_OFFSET,
        Target::Id(id) => ID_BASE + (stable_hash(id.as_bytes()) % ID_SPAN) as i64,
    }
}

/// A held claim. Dropping it (or the process dying) releases it.
#[derive(Debug)]
pub struct Claim {
    _file: Listed<File>,
    offset: i64,
}

impl Claim {
    /// The lock-file byte this claim holds.
    pub fn offset(&self) -> i64 {
        self.offset
    }
}

/// Claims `target` on the lock file at `lock_path`, waiting while another
/// thread or process holds it, up to `timeout` (`None`: forever; zero: one
/// try). Creates the lock file (and not its folder) if missing, with
/// `file_mode`, as the cache's lock does.
///
/// Errors: `LockTimeout` when the wait runs out; `Lock` when the lock file
/// cannot be opened or the file system takes no byte-range locks.
pub fn acquire(
    lock_path: &Path,
    target: Target<'_>,
    timeout: Option<Duration>,
    file_mode: u32,
) -> Result<Claim> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let at = offset(target);
    let mut pause = Duration::from_micros(20);
    loop {
        let file = Listed::open(|| super::lock::open_lock_file(None, lock_path, file_mode))?;
        match set_lock(file.get(), at) {
            Ok(()) => {
                // Locked a file that was deleted or replaced meanwhile: the
                // others look at the one at the path now.
                if still_at_path(file.get(), lock_path) {
                    return Ok(Claim {
                        _file: file,
                        offset: at,
                    });
                }
                continue;
            }
            Err(e) if is_contended(&e) => {}
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Lock,
                    format!("cannot claim {} at byte {at}: {e}", lock_path.display()),
                ))
            }
        }
        drop(file);
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Error::new(
                ErrorKind::LockTimeout,
                format!(
                    "timed out after {} ms waiting for another fetch of {} to finish (claim on {})",
                    timeout.unwrap_or_default().as_millis(),
                    describe(target),
                    lock_path.display()
                ),
            ));
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// One try: `Some` when claimed, `None` when someone else holds it.
pub fn try_acquire(lock_path: &Path, target: Target<'_>, file_mode: u32) -> Result<Option<Claim>> {
    match acquire(lock_path, target, Some(Duration::ZERO), file_mode) {
        Ok(c) => Ok(Some(c)),
        Err(e) if e.kind() == ErrorKind::LockTimeout => Ok(None),
        Err(e) => Err(e),
    }
}

fn describe(target: Target<'_>) -> String {
    match target {
        Target::Id(id) => format!("id {id:?}"),
        Target::All => "the whole store (refresh-all)".to_string(),
    }
}

/// One non-blocking exclusive OFD lock request on byte `at` of `file`.
fn set_lock(file: &File, at: i64) -> io::Result<()> {
    // SAFETY: an all-zero flock is a valid value; the fields that matter are
    // set below (l_pid must stay 0 for OFD locks).
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = at as libc::off_t;
    lock.l_len = 1;
    // SAFETY: a valid descriptor and a valid flock struct.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &lock) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn is_contended(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES))
}

fn still_at_path(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(held), Ok(now)) => {
            held.nlink() > 0 && held.dev() == now.dev() && held.ino() == now.ino()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = tempfile::Builder::new()
            .prefix(&format!("asset-cache-claim-{tag}-"))
            .tempdir()
            .unwrap()
            .keep();
        d.join("c.lock")
    }

    #[test]
    fn the_hash_is_fnv1a_and_offsets_stay_clear_of_the_turnstile() {
        // Published FNV-1a 64 test vectors: other languages must agree.
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(stable_hash(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(offset(Target::All), 1);
        for id in ["", "a", "m1", "640b517694bf816d35a59125"] {
            let o = offset(Target::Id(id));
            assert!(
                (ID_BASE..ID_BASE + ID_SPAN as i64).contains(&o),
                "{id}: {o}"
            );
        }
        assert_eq!(
            offset(Target::Id("640b517694bf816d35a59125")),
            ID_BASE + (stable_hash(b"640b517694bf816d35a59125") % ID_SPAN) as i64
        );
    }

    #[test]
    fn threads_of_one_process_exclude_each_other_per_target() {
        // Checked by claiming with F_SETLK (per-process locks) instead of
        // F_OFD_SETLK: both threads then hold it and this fails.
        let path = tmp("threads");
        let held = acquire(&path, Target::Id("m1"), None, 0o600).unwrap();
        assert!(try_acquire(&path, Target::Id("m1"), 0o600)
            .unwrap()
            .is_none());
        // Another id, and refresh-all, are independent claims.
        let other = try_acquire(&path, Target::Id("m2"), 0o600).unwrap();
        assert!(other.is_some());
        let all = try_acquire(&path, Target::All, 0o600).unwrap();
        assert!(all.is_some());
        assert!(try_acquire(&path, Target::All, 0o600).unwrap().is_none());
        drop(held);
        assert!(try_acquire(&path, Target::Id("m1"), 0o600)
            .unwrap()
            .is_some());
    }

    #[test]
    fn a_wait_ends_at_the_timeout_with_lock_timeout() {
        let path = tmp("timeout");
        let _held = acquire(&path, Target::Id("x"), None, 0o600).unwrap();
        let t = Instant::now();
        let err = acquire(
            &path,
            Target::Id("x"),
            Some(Duration::from_millis(150)),
            0o600,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LockTimeout);
        assert!(err.message().contains("\"x\""), "{}", err.message());
        assert!(t.elapsed() >= Duration::from_millis(150));
    }

    #[test]
    fn claims_do_not_touch_flock_so_the_cache_lock_stays_free() {
        // The cache's readers and writers (and Python's filelock) flock the
        // same file: a claim held for a whole fetch must not block them.
        let path = tmp("flock");
        let _held = acquire(&path, Target::All, None, 0o600).unwrap();
        let f = File::open(&path).unwrap();
        // SAFETY: a valid descriptor.
        let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(r, 0, "{}", io::Error::last_os_error());
    }

    #[test]
    fn many_threads_run_one_at_a_time() {
        let path = Arc::new(tmp("many"));
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (path, inside, max) = (path.clone(), inside.clone(), max.clone());
                thread::spawn(move || {
                    for _ in 0..20 {
                        let _c = acquire(&path, Target::Id("same"), None, 0o600).unwrap();
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(n, Ordering::SeqCst);
                        thread::sleep(Duration::from_micros(200));
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(max.load(Ordering::SeqCst), 1);
    }
}
