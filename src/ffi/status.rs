//! The one status enum every fallible call returns, its text, and the
//! per-thread message of the last failure.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};

use crate::error::{Error, ErrorKind};

/// The result of every fallible call. Values are stable: never renumbered.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum asset_cache_status {
    /// Success. Out-parameters were written.
    ASSET_CACHE_OK = 0,
    /// `asset_cache_get`: no asset with that id (or the store has expired).
    /// A normal outcome, not a failure.
    ASSET_CACHE_NOT_FOUND = 1,
    /// A NULL pointer where one is required, a bad cache name (empty, with a
    /// path separator, `..`, a control character), bad options (a TTL of 0),
    /// or a handle used in a child made by fork() (see `asset_cache`).
    ASSET_CACHE_INVALID_ARGUMENT = 2,
    /// A string argument is not valid UTF-8, or an asset's "id" holds a lone
    /// surrogate escape (`"\ud800"`), which has no UTF-8 form to be looked
    /// up by.
    ASSET_CACHE_INVALID_UTF8 = 3,
    /// Text is not valid JSON, or `asset_cache_add_list` was not given an array.
    ASSET_CACHE_INVALID_JSON = 4,
    /// An asset is not a JSON object with a non-empty string `"id"`.
    ASSET_CACHE_MISSING_ID = 5,
    /// The file system failed (read, write, rename, create, disk full,
    /// permission denied). The cache file is as it was before the call.
    ASSET_CACHE_IO = 6,
    /// The lock file could not be opened or locked.
    ASSET_CACHE_LOCK = 7,
    /// Another process held the lock for longer than the lock timeout.
    ASSET_CACHE_LOCK_TIMEOUT = 8,
    /// Memory could not be allocated: for a returned string, or for reading
    /// the cache file (one under ASSET_CACHE_MAX_FILE_BYTES but larger than
    /// the process may allocate). Nothing changed, on disk or in memory.
    ASSET_CACHE_NO_MEMORY = 9,
    /// A bug inside the library was caught before it could cross the ABI.
    /// The handle is still safe to use and to free.
    ASSET_CACHE_PANIC = 10,
    /// The backend server (Redis) cannot be reached, dropped the connection,
    /// or gave no answer within the backend timeout. Memory is as it was; a
    /// later call connects again and may succeed.
    ASSET_CACHE_BACKEND_UNAVAILABLE = 11,
    /// The backend server refused the operation: wrong credentials, a key of
    /// another type at the cache's key names, out of memory, or another
    /// server error. The message names the server.
    ASSET_CACHE_BACKEND_ERROR = 12,
}

use asset_cache_status as S;

impl From<ErrorKind> for asset_cache_status {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => S::ASSET_CACHE_INVALID_ARGUMENT,
            ErrorKind::InvalidUtf8 => S::ASSET_CACHE_INVALID_UTF8,
            ErrorKind::InvalidJson => S::ASSET_CACHE_INVALID_JSON,
            ErrorKind::MissingId => S::ASSET_CACHE_MISSING_ID,
            ErrorKind::Io => S::ASSET_CACHE_IO,
            ErrorKind::Lock => S::ASSET_CACHE_LOCK,
            ErrorKind::LockTimeout => S::ASSET_CACHE_LOCK_TIMEOUT,
            ErrorKind::BackendUnavailable => S::ASSET_CACHE_BACKEND_UNAVAILABLE,
            ErrorKind::Backend => S::ASSET_CACHE_BACKEND_ERROR,
            ErrorKind::NoMemory => S::ASSET_CACHE_NO_MEMORY,
        }
    }
}

/// A failure as it crosses the boundary: a status and its message.
#[derive(Debug)]
pub struct Failure {
    pub status: asset_cache_status,
    pub message: String,
}

impl Failure {
    pub fn new(status: asset_cache_status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::new(e.kind().into(), e.message())
    }
}

/// The static text of a status code, for any integer.
pub fn text(status: c_int) -> &'static [u8] {
    match status {
        0 => b"ok\0",
        1 => b"not found\0",
        2 => b"invalid argument\0",
        3 => b"invalid UTF-8\0",
        4 => b"invalid JSON\0",
        5 => b"asset has no non-empty string \"id\"\0",
        6 => b"I/O error\0",
        7 => b"lock error\0",
        8 => b"timed out waiting for the lock\0",
        9 => b"out of memory\0",
        10 => b"internal error (panic caught)\0",
        11 => b"backend server unavailable\0",
        12 => b"backend server refused the operation\0",
        _ => b"unknown status\0",
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records the message of a failure for `asset_cache_last_error`.
pub fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = c);
}

/// The last failure's message on this thread; valid until the next failing
/// call on this thread.
pub fn last_error() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}
