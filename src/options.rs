//! Where a cache lives and how it behaves: [`Options`], and the rules for a
//! cache's name.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// The Python original's cache folder, relative to the working directory.
pub const DEFAULT_DIR: &str = ".cache";

/// How long a call waits for another process's lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a call waits for the backend server's answer by default.
pub const DEFAULT_BACKEND_TIMEOUT: Duration = Duration::from_secs(5);

/// The mode of a new cache file and lock file: read and write for the owner
/// only, as the aiXplain SDK's development branch writes its cache (these
/// files hold service metadata, and have held credentials).
pub const DEFAULT_FILE_MODE: u32 = 0o600;

/// The mode of a cache folder the library creates: the owner's only.
pub const DEFAULT_DIR_MODE: u32 = 0o700;

/// Where the cache lives and how it behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Folder of `<name>.json` and `<name>.lock`; `.cache` by default.
    pub dir: PathBuf,
    /// Base name of the files: letters, digits and `._-`, no path separator,
    /// not `.` or `..`.
    pub name: String,
    /// Lifetime of a new store, at least 1 s (0 is refused at open with
    /// `InvalidArgument`); `None` reads `CACHE_EXPIRY_TIME` at open.
    pub ttl: Option<Duration>,
    /// Longest wait for the lock; `None` waits forever.
    pub lock_timeout: Option<Duration>,
    /// fsync files (and the folder after a rename, and the parent of a
    /// folder it creates) before reporting success. A write that cannot be
    /// made durable fails with `Io` (see `ASSET_CACHE_IO` on the C side: the
    /// header's `durable` says in which state).
    pub durable: bool,
    /// Keep the cache on a Redis server (7.0 or later, or Valkey) instead of
    /// in `dir`: `redis://[user:password@]host[:port][/db]`,
    /// `rediss://...` (TLS, with the `redis-tls` feature, on by default; the
    /// server's certificate is checked against the system's trust store, or
    /// against the PEM CA file named by `?ssl_ca_certs=/path/ca.pem`, the
    /// name redis-py gives it) or
    /// `redis+unix:///path/to/socket`. `None` (the default): the file
    /// backend. Honoured by [`AssetCache::open_any`](crate::AssetCache::open_any)
    /// (and so by the C ABI and the bindings).
    pub backend_url: Option<String>,
    /// Longest wait for the backend server's answer to each step of a call
    /// (connecting included): 5 s by default. It also sizes the lease of a
    /// single-flight claim on Redis: twice it (at least 1 s), renewed while
    /// the fetch runs, so a fetcher that dies is taken over that long after.
    /// Not used by the file backend.
    pub backend_timeout: Duration,
    /// Mode of a cache file or lock file the library creates (0o600 by
    /// default), applied exactly, whatever the umask. A rewrite keeps the
    /// mode of the file it replaces (and its owner and group where the
    /// process may set them), so a cache shared on purpose stays shared; a
    /// lock file created beside an existing cache file takes that file's
    /// mode. Must give the owner read and write; at most 0o777.
    pub file_mode: u32,
    /// Mode of each folder the library creates (0o700 by default), applied
    /// exactly; a folder inherits the set-group-ID bit of its parent as
    /// well. Existing folders are never changed. Must give the owner read,
    /// write and search; at most 0o7777 (0o2770: a folder shared by a group).
    pub dir_mode: u32,
    /// Stale-if-error: for how long after the store's expiry a failed fetch
    /// (`get_or_fetch`, `refresh_all`) returns the expired value, marked
    /// stale, instead of the failure. `None` (the default): never.
    pub stale_if_error: Option<Duration>,
    /// A size cap: keep the most recently written N assets; older ones are
    /// dropped at the next write (re-adding an asset makes it the newest).
    /// `None` (the default) reads `CACHE_MAX_ENTRIES` at open, as the SDK's
    /// development branch does, and without it there is no cap (that
    /// branch's default is 1000); `Some(0)`: no cap, whatever the variable.
    pub max_entries: Option<usize>,
    /// Fresh reads: the longest a read (`get`, `get_all`, `contains`, ...)
    /// may lag behind other processes' writes without calling `load` (see
    /// `fresh.rs` for the cost). `None` (the default): reads see memory
    /// only, as in the Python original.
    pub max_staleness: Option<Duration>,
}

impl Options {
    pub fn new(name: impl Into<String>) -> Self {
        Options {
            dir: PathBuf::from(DEFAULT_DIR),
            name: name.into(),
            ttl: None,
            lock_timeout: Some(DEFAULT_LOCK_TIMEOUT),
            durable: false,
            backend_url: None,
            backend_timeout: DEFAULT_BACKEND_TIMEOUT,
            file_mode: DEFAULT_FILE_MODE,
            dir_mode: DEFAULT_DIR_MODE,
            stale_if_error: None,
            max_entries: None,
            max_staleness: None,
        }
    }

    pub fn file_mode(mut self, mode: u32) -> Self {
        self.file_mode = mode;
        self
    }

    pub fn dir_mode(mut self, mode: u32) -> Self {
        self.dir_mode = mode;
        self
    }

    /// Refuses modes the cache could not work with.
    pub fn validate_modes(&self) -> Result<()> {
        if self.file_mode > 0o777 || self.file_mode & 0o600 != 0o600 {
            return Err(Error::invalid_argument(format!(
                "file mode {:#o} must be at most 0o777 and give the owner read and write (0o600)",
                self.file_mode
            )));
        }
        if self.dir_mode > 0o7777 || self.dir_mode & 0o700 != 0o700 {
            return Err(Error::invalid_argument(format!(
                "folder mode {:#o} must be at most 0o7777 and give the owner read, write and search (0o700)",
                self.dir_mode
            )));
        }
        Ok(())
    }

    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = dir.into();
        self
    }

    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    pub fn lock_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.lock_timeout = timeout;
        self
    }

    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// See [`Options::backend_url`].
    pub fn backend_url(mut self, url: impl Into<String>) -> Self {
        self.backend_url = Some(url.into());
        self
    }

    /// See [`Options::backend_timeout`].
    pub fn backend_timeout(mut self, timeout: Duration) -> Self {
        self.backend_timeout = timeout;
        self
    }

    /// See [`Options::max_staleness`].
    pub fn max_staleness(mut self, bound: Option<Duration>) -> Self {
        self.max_staleness = bound;
        self
    }

    /// See [`Options::max_entries`].
    pub fn max_entries(mut self, cap: Option<usize>) -> Self {
        self.max_entries = cap;
        self
    }

    /// See [`Options::stale_if_error`].
    pub fn stale_if_error(mut self, grace: Option<Duration>) -> Self {
        self.stale_if_error = grace;
        self
    }
}

/// Checks a cache file base name: no way out of the folder, nothing a shell or
/// another tool would trip on.
pub fn validate_name(name: &str) -> Result<()> {
    let why = if name.is_empty() {
        Some("is empty")
    } else if name == "." || name == ".." || name.contains("..") {
        Some("contains \"..\"")
    } else if name.contains('/') || name.contains('\\') {
        Some("contains a path separator")
    } else if name.contains('\0') {
        Some("contains a NUL byte")
    } else if name.len() > 200 {
        Some("is longer than 200 bytes")
    } else if name.chars().any(|c| c.is_control()) {
        Some("contains a control character")
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::invalid_argument(format!(
            "cache name {name:?} {why}"
        ))),
        None => Ok(()),
    }
}
