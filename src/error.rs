//! One error type for the whole core. Each kind maps to exactly one C status
//! (the status table, `src/ffi/status_table.rs`, names the kind of each
//! status; a kind without a row does not compile), so the kind of failure
//! survives the trip across the ABI.

use std::fmt;
use std::io;
use std::path::Path;

/// What went wrong, coarsely: the part a caller branches on. More kinds may
/// come (a storage backend's own failures, for one), so a `match` on it needs
/// a `_` arm.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// An argument is unusable: a bad file name, bad options.
    InvalidArgument,
    /// Text is not valid UTF-8.
    InvalidUtf8,
    /// Text is not valid JSON, or not of the expected JSON shape (e.g. not an array).
    InvalidJson,
    /// An asset is not a JSON object with a non-empty string `id`.
    MissingId,
    /// The file system refused an operation (read, write, rename, create).
    Io,
    /// The lock file could not be opened or locked.
    Lock,
    /// The lock stayed held by someone else past the configured timeout.
    LockTimeout,
    /// The backend server (Redis) cannot be reached, dropped the connection,
    /// or gave no answer within the backend timeout. The call changed
    /// nothing in memory; a later call may succeed (it connects again).
    BackendUnavailable,
    /// The backend server refused the operation: wrong credentials, a key of
    /// another type at the cache's key names, out of memory, or another
    /// server error. Retrying will not help until that is fixed.
    Backend,
    /// Memory for reading the file could not be allocated (a file under the
    /// size limit, `MAX_FILE_BYTES`, but more than the process may allocate).
    /// Nothing changed, on disk or in memory.
    NoMemory,
    /// A caller-supplied fetch (get-or-fetch, refresh-all) reported failure;
    /// the message is the fetch's own.
    FetchFailed,
}

/// An error with its kind and a message that names the problem.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// The operating system's error number, for an I/O error.
    os_error: Option<i32>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            os_error: None,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The failure of a caller-supplied fetch, with its message: what a
    /// fetch given to `get_or_fetch` or `refresh_all` returns so that
    /// stale-if-error applies to it.
    pub fn fetch_failed(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::FetchFailed, message)
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// An I/O error, with the action and the path it concerned.
    /// An I/O error with our own message, keeping the OS error number.
    pub(crate) fn io_message(os_error: i32, message: String) -> Self {
        Error {
            os_error: Some(os_error),
            ..Error::new(ErrorKind::Io, message)
        }
    }

    pub(crate) fn io(action: &str, path: &Path, err: io::Error) -> Self {
        Error {
            os_error: err.raw_os_error(),
            ..Error::new(
                ErrorKind::Io,
                format!("cannot {action} {}: {err}", path.display()),
            )
        }
    }

    /// True for an I/O error that says this process may not write there
    /// (permission denied, read-only file system): a reader can go on
    /// without the repair it wanted to make.
    pub(crate) fn is_write_denied(&self) -> bool {
        matches!(
            self.os_error,
            Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS)
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
