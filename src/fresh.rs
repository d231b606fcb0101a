//! Fresh reads: a bound on how stale a long-lived handle's reads may be.
//!
//! Reads are served from memory, as in the Python original, so a server
//! holding one handle never sees other processes' adds unless it calls
//! `load`. With a bound (`Options::max_staleness`), a read first asks
//! whether the bound has passed since the last check (one atomic load of a
//! coarse clock: the cost every read pays); if it has, one reader checks
//! whether storage changed (for the file backend one `stat` of the cache
//! file, compared with what the last check saw) and, only if it did, runs
//! `load`. Readers that find a check in progress do not wait for it: they
//! read memory as it is. So a read sees every write that finished more than
//! the bound plus one check's duration before it, and a read costs a `stat`
//! at most once per bound per handle. A bound of zero checks on every read.
//!
//! A backend with nothing to `stat` (Redis) loads once per bound instead.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::error::Result;
use crate::log::{self, Level};

/// What a `stat` of the cache file says about its version: `None` for no
/// file.
type Stamp = Option<(u64, u64, u64, i64, i64, i64, i64)>;

pub struct Freshness {
    bound_ns: u64,
    /// Monotonic time of the last check (0: never).
    checked_at: AtomicU64,
    /// The file whose `stat` tells a change, and what the last check saw.
    watched: Option<PathBuf>,
    seen: Mutex<Option<Stamp>>,
}

impl Freshness {
    pub fn new(bound: Duration, watched: Option<PathBuf>) -> Self {
        Freshness {
            bound_ns: u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX),
            checked_at: AtomicU64::new(0),
            watched,
            seen: Mutex::new(None),
        }
    }

    /// Runs `load` when the bound has passed and storage changed since the
    /// last check; otherwise does nothing. Never waits for another reader's
    /// check, never fails (a failed load is logged and retried next time).
    pub fn check(&self, load: impl FnOnce() -> Result<()>) {
        let last = self.checked_at.load(Ordering::Acquire);
        if last != 0 && now_ns().saturating_sub(last) < self.bound_ns {
            return;
        }
        let Ok(mut seen) = self.seen.try_lock() else {
            return;
        };
        let started = now_ns();
        if self.checked_at.load(Ordering::Acquire) > last {
            return; // another reader checked meanwhile
        }
        // Stat before loading: a change during the load is seen next time.
        let stamp = self.watched.as_ref().map(stamp_of);
        if stamp.is_none() || *seen != stamp {
            match load() {
                Ok(()) => *seen = stamp,
                Err(e) => log::emit(
                    Level::Debug,
                    &format!("fresh read: load failed, serving memory: {e}"),
                ),
            }
        }
        self.checked_at.store(started.max(1), Ordering::Release);
    }
}

fn stamp_of(path: &PathBuf) -> Stamp {
    let m = std::fs::symlink_metadata(path).ok()?;
    Some((
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    ))
}

/// The coarse monotonic clock in nanoseconds (a memory read, no system call
/// in the vDSO), good to a few milliseconds; a bound below its tick checks
/// on every read.
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
