//! The cache handle: what it is, how a call reaches the cache behind it, and
//! how it is freed; and the strings the library hands out.

use std::ffi::c_char;

use super::boundary::{as_ref, run_void};
use super::status::{asset_cache_status, Failure};
use crate::asset::RawAsset;
use crate::backend::any::AnyBackend;
use crate::cache::AssetCache;
use crate::options::Options;

/// What a handle holds: assets as JSON text, on the backend the options
/// chose at open (files, or Redis with a backend URL).
pub(crate) type Cache = AssetCache<RawAsset, AnyBackend>;

/// An open cache. Create it with asset_cache_open_config (or the 0.1 calls
/// asset_cache_new and asset_cache_open), free it with asset_cache_free.
///
/// Thread safety: every function taking a `const asset_cache *` may be called
/// concurrently from any number of threads on the same handle. Reads run in
/// parallel; writes to one handle run one at a time. asset_cache_free must
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
///
/// A freed handle must not be passed to any function, asset_cache_free
/// included: like memory after free(), that is undefined behaviour, which
/// the library cannot detect without reading the freed memory itself (0.1
/// tried, unsoundly; it no longer does). Run under ASan or valgrind to find
/// such a bug; the Go, Node and C++ wrappers make it impossible.
#[allow(non_camel_case_types)]
pub struct asset_cache {
    /// `fork::generation()` when opened: another value means this process is
    /// a child made by fork() since.
    generation: u64,
    /// The process that opened the handle, for the message.
    pid: u32,
    inner: Cache,
}

/// Opens a cache for a new handle, owned by the caller.
pub(crate) fn open_handle(options: Options) -> Result<*mut asset_cache, Failure> {
    crate::fork::install();
    let generation = crate::fork::generation();
    let inner = AssetCache::open_any(options)?;
    Ok(Box::into_raw(Box::new(asset_cache {
        generation,
        pid: std::process::id(),
        inner,
    })))
}

/// The cache behind a handle the caller promises is NULL or live, refused in
/// a child made by fork() since it was opened.
pub(crate) unsafe fn cache_ref<'a>(cache: *const asset_cache) -> Result<&'a Cache, Failure> {
    // SAFETY: the caller passes NULL or a live handle.
    let handle = unsafe { as_ref(cache, "cache")? };
    if handle.generation != crate::fork::generation() {
        return Err(Failure::new(
            asset_cache_status::ASSET_CACHE_INVALID_ARGUMENT,
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

/// Closes the handle and frees its memory. The files stay. NULL is a no-op.
/// The handle must not be used afterwards, nor freed twice (see
/// `asset_cache` for what that gets).
#[no_mangle]
pub unsafe extern "C" fn asset_cache_free(cache: *mut asset_cache) {
    run_void("asset_cache_free", || {
        if cache.is_null() {
            return;
        }
        // SAFETY: the caller passes a handle from an open call, once.
        let boxed = unsafe { Box::from_raw(cache) };
        if boxed.generation != crate::fork::generation() {
            // Opened before a fork: another thread of the parent may have
            // left its memory mid-change. The child's exit reclaims it.
            std::mem::forget(boxed);
        }
    })
}

/// Frees a string returned by this library through a `char **`
/// out-parameter (asset_cache_get, asset_cache_get_all and their `_ex`
/// twins). NULL is a no-op. Never pass it a `const char *` the library
/// returned (those are static or owned elsewhere).
#[no_mangle]
pub unsafe extern "C" fn asset_cache_string_free(s: *mut c_char) {
    run_void("asset_cache_string_free", || {
        // SAFETY: the caller passes NULL or a string from `malloc_string`.
        unsafe { libc::free(s.cast()) }
    })
}
