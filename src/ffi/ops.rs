//! The operations on an open cache, the Python original's API. Each has the
//! 0.1 entry point, whose failure message goes to asset_cache_last_error,
//! and an `_ex` twin (0.2.0) that also hands it out as an error object
//! through a trailing `err` out-parameter. Both run the same body.
//!
//! The `err` rule, the same for every `_ex` function: `err` may be NULL. On
//! a status other than ASSET_CACHE_OK (ASSET_CACHE_NOT_FOUND included), when
//! `err` is not NULL, `*err` receives a new error object owned by the caller,
//! to free with asset_cache_error_free; on OK `*err` is not written, so
//! initialize it to NULL.

use std::ffi::c_char;

use serde_json::value::RawValue;

use super::boundary::{as_out, as_str, malloc_string, run, run_err, Outcome};
use super::error::asset_cache_error;
use super::handle::{asset_cache, cache_ref, Cache};
use super::status::{asset_cache_status, asset_cache_status::*, Failure};
use crate::asset::RawAsset;

// ---- the bodies ----

unsafe fn get(cache: *const asset_cache, id: *const c_char, out_json: *mut *mut c_char) -> Outcome {
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
}

unsafe fn get_all(cache: *const asset_cache, out_json: *mut *mut c_char) -> Outcome {
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
}

/// Reads one value of the cache into an out-parameter.
unsafe fn read<T>(
    cache: *const asset_cache,
    out: *mut T,
    what: &str,
    value: impl FnOnce(&Cache) -> T,
) -> Outcome {
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    let (cache, out) = unsafe { (cache_ref(cache)?, as_out(out, what)?) };
    *out = value(cache);
    Ok(ASSET_CACHE_OK)
}

unsafe fn add(cache: *const asset_cache, asset_json: *const c_char) -> Outcome {
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    let (cache, text) = unsafe { (cache_ref(cache)?, as_str(asset_json, "asset_json")?) };
    let asset = RawAsset::parse(text)?;
    let id = asset.checked_id()?;
    cache.add_with_id(id, asset)?;
    Ok(ASSET_CACHE_OK)
}

unsafe fn add_list(cache: *const asset_cache, assets_json: *const c_char) -> Outcome {
    // SAFETY: the caller passes NULL or valid pointers, per the docs.
    let (cache, text) = unsafe { (cache_ref(cache)?, as_str(assets_json, "assets_json")?) };
    let items: Vec<Box<RawValue>> = serde_json::from_str(text).map_err(|e| {
        // Valid JSON of another kind: say what it is, not serde's
        // "invalid type: map, expected a sequence at line 1 column 0".
        let message = match serde_json::from_str::<&RawValue>(text) {
            Ok(raw) => format!(
                "assets_json must be a JSON array of assets, got {}",
                crate::asset::json_text_kind(raw.get())
            ),
            Err(_) => format!("assets_json must be a JSON array of assets: invalid JSON: {e}"),
        };
        Failure::new(ASSET_CACHE_INVALID_JSON, message)
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
}

/// Runs one of the cache's file operations (load, save, invalidate).
unsafe fn file_op(
    cache: *const asset_cache,
    op: impl FnOnce(&Cache) -> crate::Result<()>,
) -> Outcome {
    // SAFETY: the caller passes NULL or a live handle.
    op(unsafe { cache_ref(cache)? })?;
    Ok(ASSET_CACHE_OK)
}

// ---- reading ----

/// Looks up one asset by id, from memory (call asset_cache_load to see
/// other processes' writes first).
///
/// On ASSET_CACHE_OK, `*out_json` receives the asset as NUL-terminated JSON
/// text, owned by the caller, to free with asset_cache_string_free. When
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
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { get(cache, id, out_json) })
}

/// asset_cache_get, with the failure also handed out through `err` (see
/// asset_cache_error; ASSET_CACHE_NOT_FOUND gives one too). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_get_ex(
    cache: *const asset_cache,
    id: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe { get(cache, id, out_json) })
}

/// All assets as one JSON array, in insertion order ("[]" when empty or
/// expired), from memory.
///
/// On ASSET_CACHE_OK, `*out_json` receives NUL-terminated JSON text owned by
/// the caller, to free with asset_cache_string_free.
/// Statuses: OK, INVALID_ARGUMENT, NO_MEMORY, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_get_all(
    cache: *const asset_cache,
    out_json: *mut *mut c_char,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { get_all(cache, out_json) })
}

/// asset_cache_get_all, with the failure also handed out through `err` (see
/// asset_cache_error). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_get_all_ex(
    cache: *const asset_cache,
    out_json: *mut *mut c_char,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe { get_all(cache, out_json) })
}

/// Writes to `*out_valid` whether the store has not expired and holds at
/// least one asset (the Python original's `has_valid_cache`).
/// Statuses: OK, INVALID_ARGUMENT, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_has_valid_cache(
    cache: *const asset_cache,
    out_valid: *mut bool,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { read(cache, out_valid, "out_valid", |c| c.has_valid_cache()) })
}

/// asset_cache_has_valid_cache, with the failure also handed out through
/// `err` (see asset_cache_error). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_has_valid_cache_ex(
    cache: *const asset_cache,
    out_valid: *mut bool,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe {
        read(cache, out_valid, "out_valid", |c| c.has_valid_cache())
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
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { read(cache, out_expiry, "out_expiry", |c| c.expiry()) })
}

/// asset_cache_expiry, with the failure also handed out through `err` (see
/// asset_cache_error). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_expiry_ex(
    cache: *const asset_cache,
    out_expiry: *mut f64,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe {
        read(cache, out_expiry, "out_expiry", |c| c.expiry())
    })
}

/// Writes to `*out_len` the number of assets in memory.
/// Statuses: OK, INVALID_ARGUMENT, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_len(
    cache: *const asset_cache,
    out_len: *mut usize,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { read(cache, out_len, "out_len", |c| c.len()) })
}

/// asset_cache_len, with the failure also handed out through `err` (see
/// asset_cache_error). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_len_ex(
    cache: *const asset_cache,
    out_len: *mut usize,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe {
        read(cache, out_len, "out_len", |c| c.len())
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
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { add(cache, asset_json) })
}

/// asset_cache_add, with the failure also handed out through `err` (see
/// asset_cache_error). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_add_ex(
    cache: *const asset_cache,
    asset_json: *const c_char,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe { add(cache, asset_json) })
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
    // SAFETY: the caller's pointers, as documented.
    run(|| unsafe { add_list(cache, assets_json) })
}

/// asset_cache_add_list, with the failure also handed out through `err`
/// (see asset_cache_error). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_add_list_ex(
    cache: *const asset_cache,
    assets_json: *const c_char,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller's pointers, as documented.
    run_err(err, || unsafe { add_list(cache, assets_json) })
}

/// Brings memory up to date with the file (other processes' writes). A
/// missing file gives an empty store, an expired one is deleted, an
/// unreadable one is moved aside to `<name>.json.corrupt`.
/// Statuses: OK, INVALID_ARGUMENT, IO, LOCK, LOCK_TIMEOUT, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_load(cache: *const asset_cache) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a live handle.
    run(|| unsafe { file_op(cache, |c| c.load()) })
}

/// asset_cache_load, with the failure also handed out through `err` (see
/// asset_cache_error). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_load_ex(
    cache: *const asset_cache,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a live handle.
    run_err(err, || unsafe { file_op(cache, |c| c.load()) })
}

/// Rewrites the file from the current state (every add is already on disk;
/// this compacts it, or converts a file written by the Python original to
/// this library's layout). Creates the file when there is none.
/// Statuses: OK, INVALID_ARGUMENT, IO, LOCK, LOCK_TIMEOUT, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_save(cache: *const asset_cache) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a live handle.
    run(|| unsafe { file_op(cache, |c| c.save()) })
}

/// asset_cache_save, with the failure also handed out through `err` (see
/// asset_cache_error). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_save_ex(
    cache: *const asset_cache,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a live handle.
    run_err(err, || unsafe { file_op(cache, |c| c.save()) })
}

/// Empties the cache, starts a fresh expiry and deletes the cache file. The
/// lock file is kept, deliberately (deleting it can give two processes the
/// lock at once).
/// Statuses: OK, INVALID_ARGUMENT, IO, LOCK, LOCK_TIMEOUT, PANIC.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_invalidate(cache: *const asset_cache) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a live handle.
    run(|| unsafe { file_op(cache, |c| c.invalidate()) })
}

/// asset_cache_invalidate, with the failure also handed out through `err`
/// (see asset_cache_error). Since 0.2.0.
#[no_mangle]
pub unsafe extern "C" fn asset_cache_invalidate_ex(
    cache: *const asset_cache,
    err: *mut *mut asset_cache_error,
) -> asset_cache_status {
    // SAFETY: the caller passes NULL or a live handle.
    run_err(err, || unsafe { file_op(cache, |c| c.invalidate()) })
}
