//! The 0.1 way to open a cache, frozen: the caller-allocated
//! `asset_cache_options` struct, `asset_cache_options_init`,
//! `asset_cache_open` and `asset_cache_new`. Programs built against 0.1
//! allocate the struct with 0.1's size, so it can never grow: new options
//! exist only as `asset_cache_config` setters (see `config.rs`).
//! `examples-c/abi-0.1/` proves that a 0.1 program still works.

use std::ffi::c_char;
use std::time::Duration;

use super::boundary::{as_out, as_ref, as_str, run, run_void};
use super::handle::{asset_cache, open_handle};
use super::status::{asset_cache_status, asset_cache_status::*};
use super::ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS;
use crate::options::{Options, DEFAULT_DIR};

/// The 0.1 options for asset_cache_open, FROZEN: this struct is exactly as
/// in 0.1.0 and never grows, since programs built against 0.1 allocate it
/// with 0.1's size. Options added since exist only as asset_cache_config
/// setters; new code should use asset_cache_config and
/// asset_cache_open_config. Fill it with asset_cache_options_init first,
/// then set the fields you need.
#[repr(C)]
pub struct asset_cache_options {
    /// Folder of the cache and lock files, NUL-terminated UTF-8. NULL means
    /// ".cache" in the current directory, as in the Python original. Borrowed
    /// for the duration of `asset_cache_open` only.
    pub dir: *const c_char,
    /// Base name of the files, `<dir>/<name>.json` and `<dir>/<name>.lock`.
    /// Required. Must not be empty, contain '/', '\\', "..", or a control
    /// character. Borrowed for the duration of `asset_cache_open` only.
    pub name: *const c_char,
    /// Lifetime of a new store in seconds, at least 1: 0 is refused by
    /// `asset_cache_open` with ASSET_CACHE_INVALID_ARGUMENT (a store that
    /// expires as it is made keeps nothing). Negative (the default) reads the
    /// environment variable CACHE_EXPIRY_TIME once, at open, as the Python
    /// original's `int()` reads it (surrounding whitespace, a sign, `_`
    /// between digits, any Unicode decimal digits); a value that is not an
    /// integer, or is 0 or negative, is logged as a warning and 86400 is used.
    pub ttl_seconds: i64,
    /// Longest wait for another process's lock, in milliseconds, after which
    /// a call fails with ASSET_CACHE_LOCK_TIMEOUT. 0 tries once; negative
    /// waits forever. Default ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS.
    pub lock_timeout_ms: i64,
    /// When true, every write is flushed to stable storage (fsync) before the
    /// call returns, surviving power loss as well as crashes. Default false:
    /// writes survive a crash of the process, not of the machine. A write
    /// that cannot be made durable fails with ASSET_CACHE_IO: when the folder
    /// cannot be opened to fsync it (no free descriptor), before anything
    /// changed; when the folder's fsync itself fails, with the new file in
    /// place (not known to be durable) and memory as before the call, until
    /// the next load.
    pub durable: bool,
}

/// Fills `opts` with the defaults: dir NULL (".cache"), name NULL (must be
/// set), ttl_seconds -1, lock_timeout_ms ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS,
/// durable false. A NULL `opts` is ignored. Frozen since 0.1.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_options_init(opts: *mut asset_cache_options) {
    run_void("asset_cache_options_init", || {
        // SAFETY: the caller passes NULL or a writable options struct.
        if let Ok(opts) = unsafe { as_out(opts, "opts") } {
            *opts = asset_cache_options {
                dir: std::ptr::null(),
                name: std::ptr::null(),
                ttl_seconds: -1,
                lock_timeout_ms: ASSET_CACHE_DEFAULT_LOCK_TIMEOUT_MS,
                durable: false,
            };
        }
    })
}

/// Opens the cache `name` in ".cache" with default options, like the Python
/// original's `AssetCache(cls, cache_filename=name)`, and loads its file if
/// there is one. Opening never creates files; the first write does.
///
/// On ASSET_CACHE_OK, `*out` receives a handle the caller owns and must free
/// with `asset_cache_free`; on any other status `*out` is untouched.
/// Statuses: INVALID_ARGUMENT (NULL `name` or `out`, bad name), INVALID_UTF8,
/// IO, LOCK, LOCK_TIMEOUT, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_new(
    name: *const c_char,
    out: *mut *mut asset_cache,
) -> asset_cache_status {
    run(|| {
        // SAFETY: the caller passes NULL or valid pointers, per the docs.
        let (name, out) = unsafe { (as_str(name, "name")?, as_out(out, "out")?) };
        *out = open_handle(Options::new(name))?;
        Ok(ASSET_CACHE_OK)
    })
}

/// Opens a cache with 0.1 options (see `asset_cache_options`) and loads its
/// file if there is one. An unreadable file is moved aside to
/// `<name>.json.corrupt` (with a warning in the log) and the cache starts
/// empty; an expired file is deleted. Reads exactly the fields of the 0.1
/// struct, never past it. Frozen since 0.1.0: asset_cache_open_config is its
/// growable successor.
///
/// On ASSET_CACHE_OK, `*out` receives a handle the caller owns and must free
/// with `asset_cache_free`; on any other status `*out` is untouched. The
/// strings in `opts` are only borrowed during the call.
/// Statuses: INVALID_ARGUMENT (NULL `opts`, `opts->name` or `out`, bad name,
/// empty dir, ttl_seconds 0), INVALID_UTF8, IO, LOCK, LOCK_TIMEOUT, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_open(
    opts: *const asset_cache_options,
    out: *mut *mut asset_cache,
) -> asset_cache_status {
    run(|| {
        // SAFETY: the caller passes NULL or valid pointers, per the docs.
        let (opts, out) = unsafe { (as_ref(opts, "opts")?, as_out(out, "out")?) };
        // SAFETY: as above, for the strings inside `opts`.
        let name = unsafe { as_str(opts.name, "opts->name")? };
        let dir = if opts.dir.is_null() {
            DEFAULT_DIR
        } else {
            // SAFETY: as above.
            unsafe { as_str(opts.dir, "opts->dir")? }
        };
        let mut options = Options::new(name).dir(dir).durable(opts.durable);
        if opts.ttl_seconds >= 0 {
            options = options.ttl(Duration::from_secs(opts.ttl_seconds as u64));
        }
        options = options.lock_timeout(
            u64::try_from(opts.lock_timeout_ms)
                .ok()
                .map(Duration::from_millis),
        );
        *out = open_handle(options)?;
        Ok(ASSET_CACHE_OK)
    })
}
