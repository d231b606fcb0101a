// The one table of statuses: each row gives a status its C name, its number,
// its text (asset_cache_status_str) and the core `ErrorKind` it stands for.
// It is included twice: by src/ffi/status.rs, whose `statuses!` makes the
// Rust enum, its text and its mapping from `ErrorKind`, and by build.rs,
// whose `statuses!` writes the C enum into the header. Bindings keep copies
// (Go, Node) that tests/header.rs checks against the header.
//
// To add a status, append a row with the next free number and, if a core
// error kind maps to it, that kind in brackets. Never renumber or reuse a
// number: programs built against an older header compare with them, and must
// treat a number they do not know as a failure (asset_cache_status_str names
// it).
statuses! {
    /// The result of every fallible call. Values are stable: a status keeps its
    /// number forever, and new statuses get new numbers (see the ABI rule at
    /// the top of this header). asset_cache_status_str() names any of them.
    enum asset_cache_status {
        /// Success. Out-parameters were written.
        ASSET_CACHE_OK = 0, "ok", [];
        /// `asset_cache_get`: no asset with that id (or the store has expired).
        /// A normal outcome, not a failure.
        ASSET_CACHE_NOT_FOUND = 1, "not found", [];
        /// A NULL pointer where one is required, a bad cache name (empty, with a
        /// path separator, `..`, a control character), bad options (a TTL of 0),
        /// or a handle used in a child made by fork() (see `asset_cache`).
        ASSET_CACHE_INVALID_ARGUMENT = 2, "invalid argument", [InvalidArgument];
        /// A string argument is not valid UTF-8, or an asset's "id" holds a lone
        /// surrogate escape (`"\ud800"`), which has no UTF-8 form to be looked
        /// up by.
        ASSET_CACHE_INVALID_UTF8 = 3, "invalid UTF-8", [InvalidUtf8];
        /// Text is not valid JSON, or `asset_cache_add_list` was not given an array.
        ASSET_CACHE_INVALID_JSON = 4, "invalid JSON", [InvalidJson];
        /// An asset is not a JSON object with a non-empty string `"id"`.
        ASSET_CACHE_MISSING_ID = 5, "asset has no non-empty string \"id\"", [MissingId];
        /// The file system failed (read, write, rename, create, disk full,
        /// permission denied). The cache file is as it was before the call.
        ASSET_CACHE_IO = 6, "I/O error", [Io];
        /// The lock file could not be opened or locked.
        ASSET_CACHE_LOCK = 7, "lock error", [Lock];
        /// Another process held the lock for longer than the lock timeout.
        ASSET_CACHE_LOCK_TIMEOUT = 8, "timed out waiting for the lock", [LockTimeout];
        /// Memory could not be allocated: for a returned string, or for reading
        /// the cache file (one under ASSET_CACHE_MAX_FILE_BYTES but larger than
        /// the process may allocate). Nothing changed, on disk or in memory.
        ASSET_CACHE_NO_MEMORY = 9, "out of memory", [NoMemory];
        /// A bug inside the library was caught before it could cross the ABI.
        /// The handle is still safe to use and to free.
        ASSET_CACHE_PANIC = 10, "internal error (panic caught)", [];
        /// The backend server (Redis) cannot be reached, dropped the connection,
        /// or gave no answer within the backend timeout. Memory is as it was; a
        /// later call connects again and may succeed. Since 0.2.0.
        ASSET_CACHE_BACKEND_UNAVAILABLE = 11, "backend server unavailable", [BackendUnavailable];
        /// The backend server refused the operation: wrong credentials, a key of
        /// another type at the cache's key names, out of memory, or another
        /// server error. The message names the server. Since 0.2.0.
        ASSET_CACHE_BACKEND_ERROR = 12, "backend server refused the operation", [Backend];
        /// Get-or-fetch, refresh-all: the caller's fetch reported failure (its
        /// message is the error's) and no stale value could stand in for it.
        /// Nothing was stored. Since 0.2.0.
        ASSET_CACHE_FETCH_FAILED = 13, "the fetch failed", [FetchFailed];
        /// Get-or-fetch, refresh-all: the fetch failed within the
        /// stale-if-error grace period, so the out-parameters were written with
        /// the expired value; the message is the fetch's. Not a reason to drop
        /// the value; a reason to try again later. Since 0.2.0.
        ASSET_CACHE_STALE = 14, "stale: the fetch failed, an expired value was returned", [];
    }
}
