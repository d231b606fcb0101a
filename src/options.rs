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
    /// fsync files (and the folder after a rename) before reporting success.
    pub durable: bool,
    /// Keep the cache on a Redis server (7.0 or later, or Valkey) instead of
    /// in `dir`: `redis://[user:password@]host[:port][/db]` or
    /// `redis+unix:///path/to/socket`. `None` (the default): the file
    /// backend. Honoured by [`AssetCache::open_any`](crate::AssetCache::open_any)
    /// (and so by the C ABI and the bindings).
    pub backend_url: Option<String>,
    /// Longest wait for the backend server's answer to each step of a call
    /// (connecting included): 5 s by default. Not used by the file backend.
    pub backend_timeout: Duration,
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
        }
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
