//! The C ABI. Every function here runs inside the one panic boundary
//! ([`boundary::run`]), takes pointers through the helpers in [`boundary`],
//! and returns an [`asset_cache_status`] with results in trailing
//! out-parameters, written only on success.
//!
//! The header `include/asset_cache.h` is generated from this module by
//! cbindgen; the doc comments below are the header's documentation.

#![allow(clippy::missing_safety_doc)] // The safety rules are in each doc comment, for C readers.

mod boundary;
pub mod status;

use std::ffi::{c_char, c_int, c_void, CString};
use std::time::Duration;

use serde_json::value::RawValue;

use crate::asset::RawAsset;
use crate::cache::{AssetCache, Options, DEFAULT_DIR};
use crate::log::{self, Level};
use boundary::{as_out, as_ref, as_str, malloc_string, run, run_void};
pub use status::asset_cache_status;
use status::{asset_cache_status::*, Failure};

/// An open cache. Create it with `asset_cache_new` or `asset_cache_open`,
/// free it with `asset_cache_free`.
///
/// Thread safety: every function taking a `const asset_cache *` may be called
/// concurrently from any number of threads on the same handle. Reads run in
/// parallel; writes to one handle run one at a time. `asset_cache_free` must
/// not run concurrently with any other call on the handle.
///
/// fork(): a handle belongs to the process that opened it. In a child made by
/// `fork()`, every call on an inherited handle fails at once with
/// ASSET_CACHE_INVALID_ARGUMENT (a message naming both processes), without
/// waiting for anything: another thread of the parent may have been in the
/// middle of a write, holding the handle's in-process locks, which nobody in
/// the child could release. `asset_cache_free` on it in the child releases
/// nothing (the memory goes with the child). Open a new handle in the child;
/// it works like any other. A child that never uses the cache does not keep
/// the parent's file lock held either: the lock descriptors it inherits from
/// an operation in progress are closed in it at the fork (its copies, never
/// the parent's lock). Programs that `exec` right after `fork()` (posix_spawn,
/// subprocess) are not affected at all: every descriptor is close-on-exec.
#[allow(non_camel_case_types)]
pub struct asset_cache {
    magic: u64,
    /// `fork::generation()` when opened: another value means this process is
    /// a child made by fork() since.
    generation: u64,
    /// The process that opened the handle, for the message.
    pid: u32,
    inner: AssetCache<RawAsset>,
}

const MAGIC: u64 = 0x6173_7365_745f_6361; // "asset_ca"

/// Options for `asset_cache_open`. Always fill it with
/// `asset_cache_options_init` first, then set the fields you need, so that
/// fields added in later versions get their defaults.
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
    /// waits forever. Default 30000.
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

/// Severity of a log message.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum asset_cache_log_level {
    /// An operation failed.
    ASSET_CACHE_LOG_ERROR = 1,
    /// Something was repaired or set aside: a corrupt file kept aside, a torn
    /// add dropped, a bad CACHE_EXPIRY_TIME ignored, stale temporary files removed.
    ASSET_CACHE_LOG_WARN = 2,
    /// Notable events: a file expired, a cache invalidated.
    ASSET_CACHE_LOG_INFO = 3,
    /// Details for debugging.
    ASSET_CACHE_LOG_DEBUG = 4,
}

/// A log callback: `userdata` as installed, the level, and the message
/// (NUL-terminated UTF-8, valid only during the call). It is called from
/// whichever thread runs the operation, possibly concurrently, and must not
/// call back into the library.
#[allow(non_camel_case_types)]
pub type asset_cache_log_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: asset_cache_log_level,
        message: *const c_char,
    ),
>;

// ---- version and errors ----

/// The largest cache file read, in bytes (4 GiB). A larger file is kept
/// aside as `<name>.json.corrupt` unread, like any unreadable file, and a
/// write that would make the file larger fails with ASSET_CACHE_IO. Below
/// it, memory that cannot be allocated gives ASSET_CACHE_NO_MEMORY, never an
/// abort. Memory use is about 1.1x the file size. Must equal the Rust
/// `asset_cache::MAX_FILE_BYTES` (tests/hostile.rs checks).
pub const ASSET_CACHE_MAX_FILE_BYTES: u64 = 4_294_967_296;

/// The library's version, e.g. "0.1.0": compare it with
/// ASSET_CACHE_VERSION_STRING to check that the header and the loaded library
/// agree. Static storage; never free it.
#[no_mangle]
pub extern "C" fn asset_cache_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The library's version as MAJOR * 10000 + MINOR * 100 + PATCH, the same
/// encoding as ASSET_CACHE_VERSION_NUMBER.
#[no_mangle]
pub extern "C" fn asset_cache_version_number() -> u32 {
    crate::VERSION_NUMBER
}

/// A static, NUL-terminated description of a status code (any integer;
/// unknown codes give "unknown status"). Never free it.
#[no_mangle]
pub extern "C" fn asset_cache_status_str(status: c_int) -> *const c_char {
    status::text(status).as_ptr().cast()
}

/// The message of the most recent call on this thread that returned a status
/// other than ASSET_CACHE_OK, naming the problem (e.g. which argument, which
/// array index, which file). "" before any such call. Owned by the library;
/// valid until the next failing call on the same thread. Never free it.
#[no_mangle]
pub extern "C" fn asset_cache_last_error() -> *const c_char {
    status::last_error()
}

// ---- open and close ----

/// Fills `opts` with the defaults: dir NULL (".cache"), name NULL (must be
/// set), ttl_seconds -1, lock_timeout_ms 30000, durable false. A NULL `opts`
/// is ignored.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_options_init(opts: *mut asset_cache_options) {
    run_void(|| {
        // SAFETY: the caller passes NULL or a writable options struct.
        if let Ok(opts) = unsafe { as_out(opts, "opts") } {
            *opts = asset_cache_options {
                dir: std::ptr::null(),
                name: std::ptr::null(),
                ttl_seconds: -1,
                lock_timeout_ms: 30_000,
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
    let mut opts = std::mem::MaybeUninit::<asset_cache_options>::uninit();
    // SAFETY: init writes every field of `opts`.
    let mut opts = unsafe {
        asset_cache_options_init(opts.as_mut_ptr());
        opts.assume_init()
    };
    opts.name = name;
    // SAFETY: `opts` is valid; `name` and `out` are the caller's.
    unsafe { asset_cache_open(&opts, out) }
}

/// Opens a cache with options (see `asset_cache_options`) and loads its file
/// if there is one. An unreadable file is moved aside to
/// `<name>.json.corrupt` (with a warning in the log) and the cache starts
/// empty; an expired file is deleted.
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
        crate::fork::install();
        let generation = crate::fork::generation();
        let inner = AssetCache::open(options)?;
        *out = Box::into_raw(Box::new(asset_cache {
            magic: MAGIC,
            generation,
            pid: std::process::id(),
            inner,
        }));
        Ok(ASSET_CACHE_OK)
    })
}

/// Closes the handle and frees its memory. The files stay. NULL is a no-op.
/// The handle must not be used afterwards, nor freed twice.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_free(cache: *mut asset_cache) {
    run_void(|| {
        if cache.is_null() {
            return;
        }
        // SAFETY: the caller passes a handle from asset_cache_open, once.
        let mut boxed = unsafe { Box::from_raw(cache) };
        if boxed.magic == MAGIC && boxed.generation != crate::fork::generation() {
            // Opened before a fork: another thread of the parent may have
            // left its memory mid-change. The child's exit reclaims it.
            std::mem::forget(boxed);
        } else if boxed.magic == MAGIC {
            boxed.magic = 0;
            drop(boxed);
        } else {
            // Not a live handle: leaking is safer than freeing garbage.
            std::mem::forget(boxed);
        }
    })
}

/// Frees a string returned by this library (`asset_cache_get`,
/// `asset_cache_get_all`). NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_string_free(s: *mut c_char) {
    // SAFETY: the caller passes NULL or a string from `malloc_string`.
    unsafe { libc::free(s.cast()) }
}

unsafe fn cache_ref<'a>(cache: *const asset_cache) -> Result<&'a AssetCache<RawAsset>, Failure> {
    // SAFETY: the caller passes NULL or a handle from asset_cache_open.
    let handle = unsafe { as_ref(cache, "cache")? };
    if handle.magic != MAGIC {
        return Err(Failure::new(
            ASSET_CACHE_INVALID_ARGUMENT,
            "cache is not a live handle (already freed?)",
        ));
    }
    if handle.generation != crate::fork::generation() {
        return Err(Failure::new(
            ASSET_CACHE_INVALID_ARGUMENT,
            format!(
                "cache handle was opened by process {} and cannot be used in process {}, \
                 a child made by fork(): open a new handle in the child",
                handle.pid,
                std::process::id()
            ),
        ));
    }
    Ok(&handle.inner)
}

// ---- reading ----

/// Looks up one asset by id, from memory (call `asset_cache_load` to see
/// other processes' writes first).
///
/// On ASSET_CACHE_OK, `*out_json` receives the asset as NUL-terminated JSON
/// text, owned by the caller, to free with `asset_cache_string_free`. When
/// the id is absent or the store has expired the result is
/// ASSET_CACHE_NOT_FOUND and `*out_json` is untouched.
/// Statuses: OK, NOT_FOUND, INVALID_ARGUMENT (NULL argument), INVALID_UTF8,
/// NO_MEMORY, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_get(
    cache: *const asset_cache,
    id: *const c_char,
    out_json: *mut *mut c_char,
) -> asset_cache_status {
    run(|| {
        // SAFETY: the caller passes NULL or valid pointers, per the docs.
        let (cache, id, out) = unsafe {
            (
                cache_ref(cache)?,
                as_str(id, "id")?,
                as_out(out_json, "out_json")?,
            )
        };
        match cache.with_asset(id, |a| malloc_string(&[a.json().as_bytes()])) {
            Some(s) => {
                *out = s?;
                Ok(ASSET_CACHE_OK)
            }
            None => Err(Failure::new(
                ASSET_CACHE_NOT_FOUND,
                format!("no asset with id {id:?}"),
            )),
        }
    })
}

/// All assets as one JSON array, in insertion order ("[]" when empty or
/// expired), from memory.
///
/// On ASSET_CACHE_OK, `*out_json` receives NUL-terminated JSON text owned by
/// the caller, to free with `asset_cache_string_free`.
/// Statuses: OK, INVALID_ARGUMENT, NO_MEMORY, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_get_all(
    cache: *const asset_cache,
    out_json: *mut *mut c_char,
) -> asset_cache_status {
    run(|| {
        // SAFETY: the caller passes NULL or valid pointers, per the docs.
        let (cache, out) = unsafe { (cache_ref(cache)?, as_out(out_json, "out_json")?) };
        let s = cache.with_all(|assets| {
            let mut parts: Vec<&[u8]> = Vec::with_capacity(assets.len() * 2 + 1);
            parts.push(b"[");
            for (i, a) in assets.enumerate() {
                if i > 0 {
                    parts.push(b",");
                }
                parts.push(a.json().as_bytes());
            }
            parts.push(b"]");
            malloc_string(&parts)
        })?;
        *out = s;
        Ok(ASSET_CACHE_OK)
    })
}

/// Writes to `*out_valid` whether the store has not expired and holds at
/// least one asset (the Python original's `has_valid_cache`).
/// Statuses: OK, INVALID_ARGUMENT, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_has_valid_cache(
    cache: *const asset_cache,
    out_valid: *mut bool,
) -> asset_cache_status {
    run(|| {
        // SAFETY: the caller passes NULL or valid pointers, per the docs.
        let (cache, out) = unsafe { (cache_ref(cache)?, as_out(out_valid, "out_valid")?) };
        *out = cache.has_valid_cache();
        Ok(ASSET_CACHE_OK)
    })
}

/// Writes to `*out_expiry` the store's expiry in Unix seconds (fractional,
/// as the Python original writes it).
/// Statuses: OK, INVALID_ARGUMENT, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_expiry(
    cache: *const asset_cache,
    out_expiry: *mut f64,
) -> asset_cache_status {
    run(|| {
        // SAFETY: the caller passes NULL or valid pointers, per the docs.
        let (cache, out) = unsafe { (cache_ref(cache)?, as_out(out_expiry, "out_expiry")?) };
        *out = cache.expiry();
        Ok(ASSET_CACHE_OK)
    })
}

/// Writes to `*out_len` the number of assets in memory.
/// Statuses: OK, INVALID_ARGUMENT, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_len(
    cache: *const asset_cache,
    out_len: *mut usize,
) -> asset_cache_status {
    run(|| {
        // SAFETY: the caller passes NULL or valid pointers, per the docs.
        let (cache, out) = unsafe { (cache_ref(cache)?, as_out(out_len, "out_len")?) };
        *out = cache.len();
        Ok(ASSET_CACHE_OK)
    })
}

// ---- writing ----

/// Adds or replaces one asset: `asset_json` is one JSON object with a
/// non-empty string "id". It is on disk when the call returns OK, merged
/// with whatever other processes wrote meanwhile. The store keeps its expiry
/// unless it had expired, in which case a fresh store is started.
/// `asset_json` is only borrowed during the call.
/// Statuses: OK, INVALID_ARGUMENT, INVALID_UTF8, INVALID_JSON, MISSING_ID,
/// IO, LOCK, LOCK_TIMEOUT, PANIC. On failure memory and file are unchanged.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_add(
    cache: *const asset_cache,
    asset_json: *const c_char,
) -> asset_cache_status {
    run(|| {
        // SAFETY: the caller passes NULL or valid pointers, per the docs.
        let (cache, text) = unsafe { (cache_ref(cache)?, as_str(asset_json, "asset_json")?) };
        let asset = RawAsset::parse(text)?;
        let id = asset.checked_id()?;
        cache.add_with_id(id, asset)?;
        Ok(ASSET_CACHE_OK)
    })
}

/// Replaces the whole cache with the assets of `assets_json`, a JSON array of
/// objects each with a non-empty string "id" (the last of equal ids wins),
/// and starts a fresh expiry. One bad element rejects the whole call, and
/// the message names its index. `assets_json` is only borrowed.
/// Statuses: OK, INVALID_ARGUMENT, INVALID_UTF8, INVALID_JSON, MISSING_ID,
/// IO, LOCK, LOCK_TIMEOUT, PANIC. On failure memory and file are unchanged.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_add_list(
    cache: *const asset_cache,
    assets_json: *const c_char,
) -> asset_cache_status {
    run(|| {
        // SAFETY: the caller passes NULL or valid pointers, per the docs.
        let (cache, text) = unsafe { (cache_ref(cache)?, as_str(assets_json, "assets_json")?) };
        let items: Vec<Box<RawValue>> = serde_json::from_str(text).map_err(|e| {
            Failure::new(
                ASSET_CACHE_INVALID_JSON,
                format!("assets_json must be a JSON array of assets: {e}"),
            )
        })?;
        let mut pairs = Vec::with_capacity(items.len());
        for (i, raw) in items.into_iter().enumerate() {
            let asset = RawAsset::from_raw(raw);
            let id = asset
                .checked_id()
                .map_err(|e| Failure::new(e.kind().into(), format!("element {i}: {e}")))?;
            pairs.push((id, asset));
        }
        cache.replace_all(pairs)?;
        Ok(ASSET_CACHE_OK)
    })
}

/// Brings memory up to date with the file (other processes' writes). A
/// missing file gives an empty store, an expired one is deleted, an
/// unreadable one is moved aside to `<name>.json.corrupt`.
/// Statuses: OK, INVALID_ARGUMENT, IO, LOCK, LOCK_TIMEOUT, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_load(cache: *const asset_cache) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a live handle.
    run(|| {
        unsafe { cache_ref(cache) }?
            .load()
            .map(|()| ASSET_CACHE_OK)
            .map_err(Into::into)
    })
}

/// Rewrites the file from the current state (every add is already on disk;
/// this compacts it, or converts a file written by the Python original to
/// this library's layout). Creates the file when there is none.
/// Statuses: OK, INVALID_ARGUMENT, IO, LOCK, LOCK_TIMEOUT, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_save(cache: *const asset_cache) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a live handle.
    run(|| {
        unsafe { cache_ref(cache) }?
            .save()
            .map(|()| ASSET_CACHE_OK)
            .map_err(Into::into)
    })
}

/// Empties the cache, starts a fresh expiry and deletes the cache file. The
/// lock file is kept, deliberately (deleting it can give two processes the
/// lock at once).
/// Statuses: OK, INVALID_ARGUMENT, IO, LOCK, LOCK_TIMEOUT, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_invalidate(cache: *const asset_cache) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a live handle.
    run(|| {
        unsafe { cache_ref(cache) }?
            .invalidate()
            .map(|()| ASSET_CACHE_OK)
            .map_err(Into::into)
    })
}

// ---- logging ----

/// Installs `callback` to receive every log message at `max_level` or more
/// severe (1 error .. 4 debug), with `userdata` passed back unchanged; a NULL
/// callback removes it. Process-wide. Independently, the environment
/// variable ASSET_CACHE_LOG=error|warn|info|debug sends messages to stderr.
/// The library is silent by default.
/// Statuses: OK, INVALID_ARGUMENT (level outside 1..4), PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_set_log_callback(
    callback: asset_cache_log_callback,
    max_level: c_int,
    userdata: *mut c_void,
) -> asset_cache_status {
    run(|| {
        let level = match max_level {
            1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            _ => {
                return Err(Failure::new(
                    ASSET_CACHE_INVALID_ARGUMENT,
                    format!("log level {max_level} is not 1 (error) .. 4 (debug)"),
                ))
            }
        };
        let sink = callback.map(|cb| {
            let userdata = userdata as usize;
            Box::new(move |level: Level, message: &str| {
                let c_level = match level {
                    Level::Error => asset_cache_log_level::ASSET_CACHE_LOG_ERROR,
                    Level::Warn => asset_cache_log_level::ASSET_CACHE_LOG_WARN,
                    Level::Info => asset_cache_log_level::ASSET_CACHE_LOG_INFO,
                    Level::Debug => asset_cache_log_level::ASSET_CACHE_LOG_DEBUG,
                };
                let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
                // SAFETY: the host promised a callable function and userdata.
                unsafe { cb(userdata as *mut c_void, c_level, text.as_ptr()) };
            }) as log::Sink
        });
        log::set_sink(level, sink);
        Ok(ASSET_CACHE_OK)
    })
}
